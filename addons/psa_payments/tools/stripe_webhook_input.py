"""Shape checks of an inbound Stripe webhook request, before Odoo's handler sees it (no ORM here).

Odoo's ``payment_stripe`` handler trusts the request: a body that is not a JSON object, an event without
``data.object.id`` or a missing/garbled ``Stripe-Signature`` header ends in an unhandled exception (HTTP 500).
These checks turn such requests into a 4xx answer with a reason: the body before Odoo's handler runs, the
header only to word the reason of a refusal by Odoo's own signature check (which decides).
"""

import json

MAX_BODY_BYTES = 512 * 1024
STRIPE_EVENT_TYPES_WITH_OBJECT = (
    "payment_intent.",
    "setup_intent.",
    "charge.refunded",
    "charge.refund.updated",
)


class WebhookInputError(ValueError):
    """The request is refused; ``status`` is the HTTP status to answer."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def parse_signature_header(header):
    """``t=<ts>,v1=<sig>[,v0=...]`` -> {"t": int, "v1": [sig, ...]}; raises WebhookInputError."""
    if not header:
        raise WebhookInputError("missing Stripe-Signature header", status=403)
    timestamp, signatures = None, []
    for entry in header.split(","):
        key, sep, value = entry.strip().partition("=")
        if not sep or not value:
            raise WebhookInputError("malformed Stripe-Signature header", status=403)
        if key == "t":
            if not value.isdigit() or len(value) > 12:
                raise WebhookInputError("malformed Stripe-Signature timestamp", status=403)
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookInputError("Stripe-Signature needs a timestamp and a v1 signature", status=403)
    return {"t": timestamp, "v1": signatures}


def check_event(body):
    """Return the event dict of a well-formed webhook body; raise WebhookInputError otherwise."""
    if len(body) > MAX_BODY_BYTES:
        raise WebhookInputError("payload too large", status=413)
    try:
        event = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise WebhookInputError("body is not JSON") from error
    if not isinstance(event, dict):
        raise WebhookInputError("event must be a JSON object")
    event_type = event.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise WebhookInputError("event has no type")
    if event_type.startswith(STRIPE_EVENT_TYPES_WITH_OBJECT):
        data = event.get("data")
        stripe_object = data.get("object") if isinstance(data, dict) else None
        if not isinstance(stripe_object, dict):
            raise WebhookInputError("event has no data.object")
        if not isinstance(stripe_object.get("id"), str) or not stripe_object["id"]:
            raise WebhookInputError("event object has no id")
        description = stripe_object.get("description")
        if description is not None and not isinstance(description, str):
            raise WebhookInputError("event object description must be a string")
    return event
