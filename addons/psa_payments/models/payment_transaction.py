import logging

from odoo import models

_logger = logging.getLogger(__name__)


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    def _update_state(self, allowed_states, target_state, state_message):
        """Keep auto-pay attempts in step with their transaction, whoever moved it (charge answer, webhook,
        status query)."""
        updated = super()._update_state(allowed_states, target_state, state_message)
        if updated:
            attempts = self.env["psa.payment.attempt"].sudo().search([("transaction_id", "in", updated.ids)])
            attempts._sync_from_transaction()
        return updated

    def _psa_query_status(self):
        """Hook for extensions: ask the provider for the outcome of a charge whose answer was lost.

        Providers without a status query leave the transaction as it is; the webhook resolves it.
        """
        self.ensure_one()
        if self.provider_code == "stripe":
            self._psa_stripe_query_status()

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
