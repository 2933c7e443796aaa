from odoo import models


class AccountMove(models.Model):
    _inherit = "account.move"

    def _post(self, soft=True):
        """A charge is invoiced once the invoice line that bills it is posted (whoever made the invoice)."""
        posted = super()._post(soft=soft)
        posted.line_ids.psa_rmm_charge_ids._psa_sync_invoiced()
        return posted

    def button_draft(self):
        """An invoice back in draft no longer invoices its charges (cancelling goes through here too)."""
        res = super().button_draft()
        self.line_ids.psa_rmm_charge_ids._psa_sync_invoiced()
        return res
