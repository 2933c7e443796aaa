from odoo import fields, models


class AccountMove(models.Model):
    _inherit = "account.move"

    psa_receipt_attachment_ids = fields.Many2many(
        "ir.attachment",
        "psa_account_move_receipt_rel",
        "move_id",
        "attachment_id",
        string="Expense Receipts",
        copy=False,
        help="Receipts of the re-invoiced expenses billed on this invoice; sent with it.",
    )

    def write(self, vals):
        if self.env.context.get("psa_skip_unchanged_checked") and vals.keys() == {"checked"}:
            # the billing run ticked "Checked" for its whole batch before posting: posting's own
            # invoice-by-invoice tick then changes nothing (see psa.billing.run._psa_check_before_post)
            changing = self.filtered(lambda move: move.checked != vals["checked"])
            return super(AccountMove, changing).write(vals) if changing else True
        return super().write(vals)

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
        """A cancelled invoice no longer bills its sources: its time is approved again and the
        exactly-once keys of the billing run are freed."""
        res = super().button_cancel()
        self._psa_release_invoiced_time()
        self.env["psa.billing.key"].sudo().search([("move_id", "in", self.ids)]).unlink()
        return res

    def _psa_release_invoiced_time(self):
        """Time of an invoice back in draft or cancelled is approved again, waiting to be billed."""
        self.filtered(lambda move: move.move_type == "out_invoice").sudo().timesheet_ids._psa_set_invoiced(False)
