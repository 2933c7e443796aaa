import logging

from odoo import http
from odoo.http import request

from odoo.addons.payment_stripe.controllers.main import StripeController

from ..tools.stripe_webhook_input import WebhookInputError, check_event, parse_signature_header

_logger = logging.getLogger(__name__)


class PsaStripeController(StripeController):
    @http.route()
    def stripe_webhook(self):
        """Refuse malformed or unsigned webhook requests with a 4xx before Odoo's handler runs.

        Odoo's handler answers 500 to them (unhandled exceptions). A request that passes the shape checks
        but still breaks the handler is rolled back and answered 400: nothing of it is written.
        """
        try:
            check_event(request.httprequest.get_data(cache=True))
            parse_signature_header(request.httprequest.headers.get("Stripe-Signature"))
        except WebhookInputError as error:
            _logger.info("Stripe webhook refused (%s): %s", error.status, error)
            return request.make_json_response({"error": str(error)}, status=error.status)
        try:
            with request.env.cr.savepoint():
                return super().stripe_webhook()
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
            _logger.warning("Stripe webhook with an unexpected shape refused: %r", error)
            return request.make_json_response({"error": "unexpected event shape"}, status=400)
