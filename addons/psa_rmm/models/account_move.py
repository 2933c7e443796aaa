from odoo import models


class AccountMove(models.Model):
    _inherit = "account.move"

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        posted.line_ids.psa_rmm_charge_ids._psa_sync_invoiced()
        return posted

    def button_draft(self):
        res = super().button_draft()
        self.line_ids.psa_rmm_charge_ids._psa_sync_invoiced()
        return res

    def _psa_take_back_from_billing(self):
        """The charges an invoice still holds are invoiced again when its credit note goes back to draft."""
        res = super()._psa_take_back_from_billing()
        self.line_ids.psa_rmm_charge_ids._psa_sync_invoiced()
        return res

    def _psa_give_back_to_billing(self, refunds):
        """The RMM charges of an invoice reversed in full are billed again, like its time."""
        res = super()._psa_give_back_to_billing(refunds)
        self.line_ids.psa_rmm_charge_ids._psa_sync_invoiced()
        return res
