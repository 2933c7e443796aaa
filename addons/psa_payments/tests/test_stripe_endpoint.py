import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from odoo.addons.base.tests.common import BaseCommon


class _FakeStripe(BaseHTTPRequestHandler):
    """Answers like Stripe: a payment intent, or a card error for amount 666."""

    requests_seen = []

    def do_POST(self):  # noqa: N802 - BaseHTTPRequestHandler API
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        type(self).requests_seen.append((self.path, dict(self.headers), body))
        if "amount=666" in body:
            status, payload = 402, {"error": {"code": "card_declined", "message": "Your card was declined."}}
        else:
            status, payload = 200, {"id": "pi_test_1", "object": "payment_intent", "status": "succeeded"}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@tagged("post_install", "-at_install")
class TestStripeEndpoint(BaseCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = HTTPServer(("127.0.0.1", 0), _FakeStripe)
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()
        cls.addClassCleanup(cls.server.shutdown)
        cls.provider = cls.env.ref("payment.payment_provider_stripe")
        cls.provider.write({"stripe_secret_key": "sk_test_psa", "stripe_publishable_key": "pk_test_psa"})
        cls.env["ir.config_parameter"].set_param(
            "psa_payments.stripe_api_base", f"http://127.0.0.1:{cls.server.server_port}/v1"
        )

    def setUp(self):
        super().setUp()
        _FakeStripe.requests_seen.clear()

    def test_requests_go_to_the_configured_endpoint(self):
        """With the parameter set, Stripe calls reach that server with the key and idempotency key."""
        result = self.provider._stripe_make_request(
            "payment_intents", payload={"amount": 1250, "currency": "usd"}, idempotency_key="INV-1-attempt-1"
        )
        self.assertEqual(result["id"], "pi_test_1")
        path, headers, body = _FakeStripe.requests_seen[0]
        self.assertEqual(path, "/v1/payment_intents")
        self.assertEqual(headers["AUTHORIZATION"], "Bearer sk_test_psa")
        self.assertEqual(headers["Idempotency-Key"], "INV-1-attempt-1")
        self.assertIn("amount=1250", body)

    def test_card_errors_are_reported_or_returned_offline(self):
        with self.assertRaisesRegex(ValidationError, "Your card was declined"):
            self.provider._stripe_make_request("payment_intents", payload={"amount": 666})
        # off-session (cron) charges get the error payload back, for the flow to record it
        result = self.provider._stripe_make_request("payment_intents", payload={"amount": 666}, offline=True)
        self.assertEqual(result["error"]["code"], "card_declined")

    def test_unreachable_endpoint_is_a_clear_error(self):
        self.env["ir.config_parameter"].set_param("psa_payments.stripe_api_base", "http://127.0.0.1:9/v1/")
        with self.assertRaisesRegex(ValidationError, "could not reach"):
            self.provider._stripe_make_request("payment_intents", payload={"amount": 1})
