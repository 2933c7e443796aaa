import hashlib
import hmac
import json
import time
from unittest.mock import patch

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.payment.tests.http_common import PaymentHttpCommon
from odoo.addons.payment_stripe.controllers.main import StripeController
from odoo.addons.payment_stripe.tests.common import StripeCommon

from ..tools.stripe_webhook_input import WebhookInputError, check_event, parse_signature_header

WEBHOOK = "/payment/stripe/webhook"


@tagged("post_install", "-at_install")
class TestStripeWebhookInputUnit(HttpCase):
    """Shape checks (plain Python), then the same requests through HTTP: 4xx, never 500, nothing written."""

    def test_signature_header_parsing(self):
        self.assertEqual(parse_signature_header("t=1700000000,v1=abc,v0=zzz"), {"t": 1700000000, "v1": ["abc"]})
        for header in (None, "", "garbage", "t=,v1=x", "t=12a,v1=x", "t=1", "v1=abc"):
            with self.assertRaises(WebhookInputError, msg=header):
                parse_signature_header(header)

    def test_event_shape(self):
        event = {"type": "payment_intent.succeeded", "data": {"object": {"id": "pi_1", "description": "INV/1"}}}
        self.assertEqual(check_event(json.dumps(event).encode()), event)
        for body in (
            b"",
            b"\xff",
            b"[]",
            b"{}",
            b'{"type": 3}',
            b'{"type": "payment_intent.succeeded"}',
            b'{"type": "payment_intent.succeeded", "data": {"object": {"id": 7}}}',
        ):
            with self.assertRaises(WebhookInputError, msg=body):
                check_event(body)
        with self.assertRaises(WebhookInputError) as caught:
            check_event(b"{" + b" " * (600 * 1024) + b"}")
        self.assertEqual(caught.exception.status, 413)

    def _post(self, body, signature=None):
        headers = {"Content-Type": "application/json"}
        if signature:
            headers["Stripe-Signature"] = signature
        # url_open would send an empty body as a GET: post explicitly
        return self.opener.post(self.base_url() + WEBHOOK, data=body, headers=headers, timeout=30)

    def test_malformed_requests_get_4xx_and_write_nothing(self):
        transactions = self.env["payment.transaction"].search_count([])
        signature = f"t={int(time.time())},v1={'0' * 64}"
        cases = [
            (b"", signature, 400),
            (b"not json", signature, 400),
            (b"[1, 2]", signature, 400),
            (json.dumps({"type": "payment_intent.succeeded"}).encode(), signature, 400),
            (json.dumps({"type": "payment_intent.succeeded"}).encode(), None, 400),
            (b"{" + b" " * (600 * 1024) + b"}", None, 413),
        ]
        for body, sig, expected in cases:
            response = self._post(body, sig)
            self.assertEqual(response.status_code, expected, body)
            self.assertIn("error", response.json())
        self.assertEqual(self.env["payment.transaction"].search_count([]), transactions)

    def test_well_formed_event_of_unknown_transaction_is_acknowledged(self):
        """Stripe must not retry forever an event Odoo does not know: Odoo's handler acknowledges it."""
        body = json.dumps(
            {"type": "payment_intent.succeeded", "data": {"object": {"id": "pi_unknown", "description": "nope"}}}
        ).encode()
        with mute_logger("odoo.addons.payment_stripe.controllers.main"):
            response = self._post(body, f"t={int(time.time())},v1={'0' * 64}")
        self.assertEqual(response.status_code, 200)


@tagged("post_install", "-at_install")
class TestStripeWebhookSignature(StripeCommon, PaymentHttpCommon):
    """The signature of an event of a known transaction is decided by Odoo's own hook
    (``StripeController._verify_notification_signature``, which modules may extend); a refusal is a 403 with a
    reason, and nothing is written."""

    def _post(self, signature=None):
        body = json.dumps(self.notification_data).encode()
        headers = {"Content-Type": "application/json"}
        if signature == "valid":
            timestamp = int(time.time())
            digest = hmac.new(
                self.stripe.stripe_webhook_secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
            ).hexdigest()
            signature = f"t={timestamp},v1={digest}"
        if signature:
            headers["Stripe-Signature"] = signature
        with mute_logger("odoo.addons.payment_stripe.controllers.main", "odoo.addons.psa_payments.controllers"):
            response = self.opener.post(self.base_url() + WEBHOOK, data=body, headers=headers, timeout=30)
        self.env.invalidate_all()
        return response

    def test_signed_event_confirms_the_transaction(self):
        tx = self._create_transaction("redirect")
        response = self._post("valid")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(tx.state, "done")

    def test_refused_signatures_get_403_and_change_nothing(self):
        tx = self._create_transaction("redirect")
        stale = f"t={int(time.time()) - 3600},v1={'0' * 64}"
        for signature, reason in (
            (None, "missing Stripe-Signature header"),
            ("t=x", "malformed Stripe-Signature"),
            ("garbage", "malformed Stripe-Signature"),
            (f"t={int(time.time())}", "needs a timestamp and a v1 signature"),
            (f"t={int(time.time())},v1={'0' * 64}", "does not match"),
            (stale, "does not match the event or its timestamp is outdated"),
        ):
            response = self._post(signature)
            self.assertEqual(response.status_code, 403, signature)
            self.assertIn(reason, response.json()["error"], signature)
            self.assertEqual(tx.state, "draft", signature)

    def test_unsigned_event_is_handled_where_odoo_accepts_it(self):
        """Without a webhook secret Odoo handles unsigned events (it logs a warning): so do we."""
        self.stripe.stripe_webhook_secret = False
        tx = self._create_transaction("redirect")
        response = self._post()
        self.assertEqual(response.status_code, 200)
        self.assertEqual(tx.state, "done")

    def test_an_extension_of_the_signature_hook_decides(self):
        """A module that replaces Odoo's signature check (as Odoo's own tests do) is obeyed."""
        tx = self._create_transaction("redirect")
        with patch.object(StripeController, "_verify_notification_signature") as signature_check:
            response = self._post()
        self.assertEqual(signature_check.call_count, 1)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(tx.state, "done")
