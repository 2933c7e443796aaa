from odoo import fields, models


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    psa_billing_explanation = fields.Text(
        string="Billing Explanation",
        copy=False,
        help="Why this line was billed: which time entries, milestone or agreement period, at which rate.",
    )
