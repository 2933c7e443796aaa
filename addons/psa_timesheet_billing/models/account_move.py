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

    def button_cancel(self):
        """A cancelled invoice no longer bills its sources: free their exactly-once keys."""
        res = super().button_cancel()
        self.env["psa.billing.key"].sudo().search([("move_id", "in", self.ids)]).unlink()
        return res
