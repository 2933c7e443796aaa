from odoo import models


class AccountMove(models.Model):
    _inherit = "account.move"

    def button_cancel(self):
        """A cancelled invoice no longer bills its sources: free their exactly-once keys."""
        res = super().button_cancel()
        self.env["psa.billing.key"].sudo().search([("move_id", "in", self.ids)]).unlink()
        return res
