import json
import time

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

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
            (json.dumps({"type": "payment_intent.succeeded", "data": {"object": {"id": "pi_x"}}}).encode(), None, 403),
            (json.dumps({"type": "payment_intent.succeeded", "data": {"object": {"id": "pi_x"}}}).encode(), "t=x", 403),
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
