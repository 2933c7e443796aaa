from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    psa_billing_hold = fields.Boolean(
        string="Billing on Hold",
        tracking=True,
        help="Billing runs skip this customer (the preview says so) until the hold is lifted.",
    )
    psa_billing_hold_reason = fields.Char(string="Hold Reason", tracking=True)
