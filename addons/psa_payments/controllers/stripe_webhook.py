import logging

from werkzeug.exceptions import Forbidden

from odoo import http
from odoo.http import request

from odoo.addons.payment_stripe.controllers.main import StripeController

from ..tools.stripe_webhook_input import WebhookInputError, check_event, parse_signature_header

_logger = logging.getLogger(__name__)


class PsaStripeController(StripeController):
    @http.route()
    def stripe_webhook(self):
        """Refuse malformed, oversized or wrongly signed webhook requests with a 4xx JSON answer.

        Odoo's handler answers 500 to them (unhandled exceptions). The body is checked before Odoo's handler
        runs; the signature is decided by Odoo's own hook, ``_verify_notification_signature`` (see below), so
        that what Odoo accepts (an unsigned event when no webhook secret is set) and what modules extending
        that hook decide still holds. A request that passes the shape checks but still breaks the handler is
        rolled back and answered 400: nothing of it is written.
        """
        try:
            check_event(request.httprequest.get_data(cache=True))
            with request.env.cr.savepoint():
                return super().stripe_webhook()
        except WebhookInputError as error:
            _logger.info("Stripe webhook refused (%s): %s", error.status, error)
            return request.make_json_response({"error": str(error)}, status=error.status)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
            _logger.warning("Stripe webhook with an unexpected shape refused: %r", error)
            return request.make_json_response({"error": "unexpected event shape"}, status=400)

    def _verify_notification_signature(self, tx_sudo):
        """Odoo's signature check, its refusals turned into a 403 with a reason instead of a 500 (a missing
        or garbled ``Stripe-Signature`` header) or an HTML page (a signature that does not match).

        :raise WebhookInputError: with status 403 when the check refuses the request"""
        try:
            return super()._verify_notification_signature(tx_sudo)
        except (Forbidden, KeyError, ValueError, TypeError, IndexError) as error:
            try:
                parse_signature_header(request.httprequest.headers.get("Stripe-Signature"))
            except WebhookInputError as header_error:
                raise header_error from error
            raise WebhookInputError(
                "Stripe-Signature does not match the event or its timestamp is outdated", status=403
            ) from error
