from odoo import api, models


class AccountMoveSend(models.AbstractModel):
    _inherit = "account.move.send"

    @api.model
    def _get_invoice_extra_attachments(self, move):
        """The receipts of re-invoiced expenses travel with the invoice email."""
        return super()._get_invoice_extra_attachments(move) | move.psa_receipt_attachment_ids
