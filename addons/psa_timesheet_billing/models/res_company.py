from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    psa_prepaid_topup = fields.Boolean(
        string="Raise Top-up Quotations",
        help="Default of new prepaid funds: a low balance raises a draft top-up quotation for the customer.",
    )
