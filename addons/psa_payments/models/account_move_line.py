import logging

from odoo import models

_logger = logging.getLogger(__name__)


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    def reconcile(self):
        """Leave a charge job's payment-to-invoice reconciliation to the job's next transaction.

        Odoo's ``payment.transaction._create_payment`` posts the payment, then reconciles it with the invoice in
        the same transaction, while the bank journal's new number is held (see
        ``psa.payment.attempt._psa_commit_then_reconcile``). With ``psa_reconcile_after_commit`` in the context
        (a charge job sets it) that one reconciliation is skipped here and done by the job after its commit;
        any other reconciliation runs as usual.
        """
        if self.env.context.get("psa_reconcile_after_commit") and self._psa_is_charge_job_matching():
            _logger.debug("auto-pay: reconciliation of %s left to the charge job's next transaction", self.ids)
            return {}
        return super().reconcile()

    def _psa_is_charge_job_matching(self):
        """Whether these lines are exactly a new payment's lines and its transaction's invoices' lines."""
        payment_moves = self.move_id.filtered("origin_payment_id.payment_transaction_id")
        if len(payment_moves) != 1:
            return False
        transaction = payment_moves.origin_payment_id.payment_transaction_id
        invoices = self.move_id - payment_moves
        return bool(invoices) and invoices <= transaction.invoice_ids
