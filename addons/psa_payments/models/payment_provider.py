import logging
from urllib.parse import urljoin

import requests

from odoo import api, models
from odoo.exceptions import ValidationError

_logger = logging.getLogger(__name__)

STRIPE_API_BASE_PARAM = "psa_payments.stripe_api_base"
STRIPE_DEFAULT_API_BASE = "https://api.stripe.com/v1/"
STRIPE_TIMEOUT_PARAM = "psa_payments.stripe_timeout"
STRIPE_TIMEOUT = 30  # seconds


class PsaProviderUnreachableError(ValidationError):
    """The provider did not answer (connection refused, timeout): the request may or may not have landed."""


class PaymentProvider(models.Model):
    _inherit = "payment.provider"

    # ------------------------------------------------------------------
    # Provider hooks of auto-pay: generic entry points dispatching to ``_psa_<provider code>_*``
    # ------------------------------------------------------------------

    def _psa_dispatch(self, hook, *args, default=None):
        """Call ``_psa_<code>_<hook>`` of this provider when it exists, else return ``default``."""
        self.ensure_one()
        method = getattr(self, f"_psa_{self.code}_{hook}", None)
        return method(*args) if method else default

    def _psa_autopay_refusal(self):
        """Hook for extensions: why auto-pay cannot be active on this provider, or an empty string.

        Providers add ``_psa_<code>_autopay_refusal``; without one, any provider that can charge a token works.
        """
        return self._psa_dispatch("autopay_refusal", default="")

    def _psa_replay_window_hours(self):
        """Hook for extensions: hours during which a lost charge may be replayed with its idempotency key.

        Zero (the default) means the provider has no such window: an unknown charge is only resolved by the
        provider's own notification or status query, never by a replay.
        """
        return self._psa_dispatch("replay_window_hours", default=0)

    def _psa_settle_payment_method_line(self):
        """Create the provider's payment method line now if it has none, before charge jobs run in parallel.

        Odoo's account_payment creates it lazily, the first time the provider's journal is computed: two
        charge jobs reaching that point at once each create one, and with two lines every later payment of
        the provider fails ("Expected singleton"). The cron settles it, once, in its own transaction.

        Only a provider whose line is missing or out of date (another journal, another name) is settled:
        Odoo's ``_ensure_payment_method_line`` writes the line each time, and two cron runs writing the same
        line at once made the second one fail on a serialization error at its commit, its chunk of invoices
        left to the next run (``bench/bench_autopay.py``: 50 of 1,000 invoices unpaid).
        """
        for provider in self:
            if not provider.journal_id:
                continue
            settled = self.env["account.payment.method.line"].search_count(
                [
                    ("payment_provider_id", "=", provider.id),
                    ("journal_id", "=", provider.journal_id.id),
                    ("name", "=", provider.name),
                ],
                limit=1,
            )
            if not settled:
                provider._ensure_payment_method_line()

    def _psa_stripe_autopay_refusal(self):
        if not self.stripe_webhook_secret:
            return self.env._(
                "Auto-pay cannot be active on %(provider)s without a webhook secret: set it on the payment provider "
                "first (rule: verified webhooks).",
                provider=self.name,
            )
        return ""

    def _psa_stripe_failure_code(self, notification_data):
        """Stripe puts the reason of a failed charge in the payment intent's ``last_payment_error``: the
        ``decline_code`` when the bank gave one (e.g. ``insufficient_funds``), else the ``code``."""
        intent = notification_data.get("payment_intent")
        error = intent.get("last_payment_error") if isinstance(intent, dict) else None
        if not isinstance(error, dict):
            return None
        return error.get("decline_code") or error.get("code")

    def _psa_stripe_replay_window_hours(self):
        # Stripe keeps idempotency keys for 24 hours; an hour of margin.
        return 23

    @api.model
    def _psa_stripe_api_base(self):
        """Hook for extensions: the Stripe API root, from the ``psa_payments.stripe_api_base`` parameter.

        Staging and the test suite point it at a Stripe-compatible server (localstripe) on loopback.
        """
        base = self.env["ir.config_parameter"].sudo().get_param(STRIPE_API_BASE_PARAM) or STRIPE_DEFAULT_API_BASE
        return base if base.endswith("/") else base + "/"

    @api.model
    def _psa_stripe_timeout(self):
        """Hook for extensions: seconds to wait for Stripe (system parameter ``psa_payments.stripe_timeout``)."""
        value = self.env["ir.config_parameter"].sudo().get_param(STRIPE_TIMEOUT_PARAM)
        try:
            return float(value) if value else STRIPE_TIMEOUT
        except ValueError:
            return STRIPE_TIMEOUT

    def _stripe_make_request(self, endpoint, payload=None, method="POST", offline=False, idempotency_key=None):
        """Send Stripe requests to the configured API root.

        ``payment_stripe`` hard-codes Stripe's URL inside this method, so a configured endpoint is served by
        our own request below (same headers and error contract); the default endpoint keeps Odoo's code.
        An auto-pay charge passes its own idempotency key (invoice + attempt) in the context.
        """
        if endpoint == "payment_intents" and method == "POST" and self.env.context.get("psa_idempotency_key"):
            idempotency_key = self.env.context["psa_idempotency_key"]
        base = self._psa_stripe_api_base()
        if base == STRIPE_DEFAULT_API_BASE:
            return super()._stripe_make_request(
                endpoint, payload=payload, method=method, offline=offline, idempotency_key=idempotency_key
            )
        self.ensure_one()
        url = urljoin(base, endpoint)
        headers = {
            "AUTHORIZATION": f"Bearer {self._psa_stripe_secret_key()}",
            "Stripe-Version": self._psa_stripe_api_version(),
            **self._get_stripe_extra_request_headers(),
        }
        if method == "POST" and idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        try:
            response = requests.request(method, url, data=payload, headers=headers, timeout=self._psa_stripe_timeout())
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as error:
            _logger.warning("Stripe endpoint %s unreachable: %s", url, error)
            raise PsaProviderUnreachableError(self.env._("Stripe: could not reach %(url)s.", url=url)) from error
        try:
            content = response.json()
        except ValueError as error:
            raise ValidationError(
                self.env._("Stripe: %(url)s answered %(status)s without JSON.", url=url, status=response.status_code)
            ) from error
        if not response.ok and not offline and 400 <= response.status_code < 500 and content.get("error"):
            message = content["error"].get("message") or content["error"].get("code") or response.reason
            _logger.info("Stripe refused %s %s: %s", method, endpoint, message)
            raise ValidationError(self.env._("Stripe: %(message)s", message=message))
        return content

    def _psa_stripe_secret_key(self):
        from odoo.addons.payment_stripe import utils as stripe_utils

        return stripe_utils.get_secret_key(self)

    @api.model
    def _psa_stripe_api_version(self):
        from odoo.addons.payment_stripe import const

        return const.API_VERSION
