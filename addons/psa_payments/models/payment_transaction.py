import logging

from odoo import fields, models

from odoo.addons.psa_orders.tools import locks

from ..tools import decline_reasons

_logger = logging.getLogger(__name__)


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    psa_failure_code = fields.Char(
        string="Failure code",
        readonly=True,
        copy=False,
        help="The provider's code for why the payment failed (e.g. expired_card), read by auto-pay.",
    )

    def _update_state(self, allowed_states, target_state, state_message):
        """Keep auto-pay attempts in step with their transaction, whoever moved it (webhook, status query).

        While auto-pay itself sends a charge or queries its status (``psa_idempotency_key`` in the context) it
        syncs the attempt once the whole answer is read, failure code included.
        """
        updated = super()._update_state(allowed_states, target_state, state_message)
        if updated and not self.env.context.get("psa_idempotency_key"):
            attempts = self.env["psa.payment.attempt"].sudo().search([("transaction_id", "in", updated.ids)])
            attempts._sync_from_transaction()
        return updated

    def _get_tx_from_notification_data(self, provider_code, notification_data):
        """The transaction a notification is about, its row locked: a notification is handled one at a time
        per transaction.

        Stripe may deliver the same event twice at the same moment (or a webhook and the customer's return
        meet). The second delivery waits for the first, then is run again by Odoo with what the first
        committed (the transaction done, the refund recorded) and changes nothing more.
        """
        tx = super()._get_tx_from_notification_data(provider_code, notification_data)
        locks.lock_rows(self.env.cr, "payment_transaction", tx.ids)
        return tx

    def _process_notification_data(self, notification_data):
        """Read the provider's failure code before the state changes, so the attempt can act on it."""
        code = self.provider_id._psa_dispatch("failure_code", notification_data)
        if code and code != self.psa_failure_code:
            self.psa_failure_code = code
        return super()._process_notification_data(notification_data)

    def _psa_on_answer_without_outcome(self):
        """Hook for extensions: the provider answered an off-session charge, yet the transaction is still draft.

        Dispatches to ``_psa_<code>_on_answer_without_outcome``. By default the attempt stays pending: the
        provider's notification (or, after an hour, a status query) gives the outcome.
        """
        self.ensure_one()
        method = getattr(self, f"_psa_{self.provider_code}_on_answer_without_outcome", None)
        if method:
            method()

    def _psa_stripe_on_answer_without_outcome(self):
        # The payment intent requires an action: the bank wants the customer to authenticate, which cannot
        # happen off-session.
        self.psa_failure_code = decline_reasons.AUTHENTICATION_REQUIRED
        self._set_error(
            self.env._("The card needs the customer's authentication: the customer must pay from the link.")
        )

    def _psa_query_status(self):
        """Hook for extensions: ask the provider for the outcome of a charge whose answer was lost.

        Dispatches to ``_psa_<code>_query_status``; providers without one leave the transaction as it is and
        their notification resolves it.
        """
        self.ensure_one()
        method = getattr(self, f"_psa_{self.provider_code}_query_status", None)
        if method:
            method()

    def _psa_stripe_query_status(self):
        """GET the payment intent when its id is known; otherwise replay the creation with the attempt's
        idempotency key, which makes Stripe answer with the original outcome instead of charging again."""
        from odoo.addons.payment_stripe.controllers.main import StripeController

        if self.provider_reference:
            intent = self.provider_id._stripe_make_request(
                f"payment_intents/{self.provider_reference}", method="GET", offline=True
            )
        else:
            intent = self.provider_id._stripe_make_request(
                "payment_intents",
                payload=self._stripe_prepare_payment_intent_payload(),
                offline=True,
            )
        if "error" in intent:
            error = intent["error"]
            intent = error.get("payment_intent")
            if not intent:
                self._set_error(self.env._("Stripe: %(message)s", message=error.get("message") or error.get("code")))
                return
        notification_data = {"reference": self.reference}
        StripeController._include_payment_intent_in_notification_data(intent, notification_data)
        self._handle_notification_data("stripe", notification_data)
