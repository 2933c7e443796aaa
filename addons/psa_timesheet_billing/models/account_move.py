from odoo import models


class AccountMove(models.Model):
    _inherit = "account.move"

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        invoices = posted.filtered(lambda move: move.move_type == "out_invoice")
        invoices.sudo().timesheet_ids._psa_set_invoiced(True)
        # a posted credit note gives the time of the invoice it reverses back to billing
        refunds = posted.filtered(lambda move: move.move_type == "out_refund" and move.reversed_entry_id)
        refunds.reversed_entry_id.sudo().timesheet_ids._psa_set_invoiced(False)
        return posted

    def button_draft(self):
        res = super().button_draft()
        self._psa_release_invoiced_time()
        return res

    def button_cancel(self):
        res = super().button_cancel()
        self._psa_release_invoiced_time()
        return res

    def _psa_release_invoiced_time(self):
        """Time of an invoice back in draft or cancelled is approved again, waiting to be billed."""
        self.filtered(lambda move: move.move_type == "out_invoice").sudo().timesheet_ids._psa_set_invoiced(False)
