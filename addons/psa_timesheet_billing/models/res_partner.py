from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    psa_prepaid_fund_ids = fields.One2many("psa.prepaid.fund", "partner_id", string="Prepaid Funds")
    psa_prepaid_remaining = fields.Float(
        string="Prepaid Balance", compute="_compute_psa_prepaid_remaining", help="Remaining on the open funds."
    )

    psa_prepaid_display = fields.Char(
        string="Prepaid Left", compute="_compute_psa_prepaid_remaining", help="What is left, with its unit."
    )

    def _compute_psa_prepaid_remaining(self):
        if not self.env["psa.prepaid.fund"].has_access("read"):
            self.psa_prepaid_remaining = 0.0
            self.psa_prepaid_display = False
            return
        funds = self.env["psa.prepaid.fund"].search(
            [("partner_id", "in", self.commercial_partner_id.ids), ("state", "=", "open")]
        )
        for partner in self:
            mine = funds.filtered(lambda f, p=partner: f.partner_id == p.commercial_partner_id)
            partner.psa_prepaid_remaining = sum(mine.mapped("remaining_quantity"))
            partner.psa_prepaid_display = mine._psa_remaining_display()

    psa_billing_hold = fields.Boolean(
        string="Billing on Hold",
        tracking=True,
        help="Billing runs skip this customer (the preview says so) until the hold is lifted.",
    )
    psa_billing_hold_reason = fields.Char(string="Hold Reason", tracking=True)
