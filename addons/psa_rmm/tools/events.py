"""Signature checks and parsing of the documented PSA RMM event format. Plain Python, no ORM.

Every refusal raises :class:`EventError` carrying the HTTP status, a stable machine code and a
human message; the controller turns it into a 4xx JSON body.
"""

import hashlib
import hmac
import json
from datetime import datetime, timezone

EVENT_TYPES = (
    "alert.raised",
    "alert.updated",
    "alert.auto_resolved",
    "device.upserted",
    "device.removed",
)
ALERT_TYPES = ("alert.raised", "alert.updated", "alert.auto_resolved")
SEVERITIES = ("info", "low", "medium", "warning", "high", "error", "critical")
DEVICE_TYPES = ("workstation", "server", "network", "mobile", "other")
# helpdesk_mgmt priorities: 0 low, 1 medium, 2 high, 3 very high
SEVERITY_PRIORITY = {
    "info": "0",
    "low": "0",
    "medium": "1",
    "warning": "1",
    "high": "2",
    "error": "2",
    "critical": "3",
}
MAX_BATCH = 10000
MAX_TEXT = 4000


class EventError(Exception):
    """A refused request: ``status`` (4xx), ``code`` (stable) and ``message`` (readable)."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def as_dict(self):
        return {"error": self.code, "message": self.message}


def compute_signature(secret, timestamp, body):
    """Hex HMAC-SHA256 of ``"<timestamp>.<raw body>"`` with the integration secret."""
    if isinstance(body, str):
        body = body.encode()
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_request(secret, timestamp_header, signature_header, body, now, max_skew):
    """Check the signature then the freshness of a request; return the timestamp as an int.

    ``signature_header`` is ``sha256=<hex>`` (the bare hex is accepted too). ``now`` is a unix time.
    """
    if not secret:
        raise EventError(403, "integration_not_configured", "The integration has no secret.")
    if not timestamp_header or not signature_header:
        raise EventError(401, "missing_signature", "The timestamp and signature headers are required.")
    try:
        timestamp = int(timestamp_header)
    except (TypeError, ValueError):
        raise EventError(401, "bad_timestamp", "The timestamp header must be unix seconds.")
    provided = signature_header.strip()
    if provided.startswith("sha256="):
        provided = provided[len("sha256=") :]
    expected = compute_signature(secret, timestamp_header, body)
    if not hmac.compare_digest(expected, provided.lower()):
        raise EventError(401, "bad_signature", "The signature does not match the body.")
    if abs(now - timestamp) > max_skew:
        raise EventError(
            401,
            "stale_timestamp",
            f"The timestamp is {abs(now - timestamp)} s away from our clock (allowed: {max_skew} s).",
        )
    return timestamp


def load_json(body, max_bytes):
    """Decode a request body into JSON, refusing oversize or malformed bodies."""
    if len(body) > max_bytes:
        raise EventError(413, "payload_too_large", f"The body exceeds {max_bytes} bytes.")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise EventError(400, "malformed_json", f"The body is not valid JSON: {exc}")


def _text(value, path, required=False, max_len=MAX_TEXT):
    if value is None or value == "":
        if required:
            raise EventError(422, "invalid_event", f"{path} is required.")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise EventError(422, "invalid_event", f"{path} must be a string.")
    value = str(value).strip()
    if len(value) > max_len:
        raise EventError(422, "invalid_event", f"{path} is longer than {max_len} characters.")
    return value


def parse_datetime(value, path):
    """ISO 8601 (with offset or Z) or unix seconds -> naive UTC datetime."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=timezone.utc).replace(tzinfo=None)
    if not isinstance(value, str) or not value:
        raise EventError(422, "invalid_event", f"{path} must be an ISO 8601 date-time.")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise EventError(422, "invalid_event", f"{path} is not an ISO 8601 date-time: {value!r}.")
    if parsed.tzinfo:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def normalize_event(raw, index=0):
    """Validate one event of the documented format and return a flat, typed dict."""
    path = f"events[{index}]"
    if not isinstance(raw, dict):
        raise EventError(422, "invalid_event", f"{path} must be an object.")
    event_type = raw.get("type")
    if event_type not in EVENT_TYPES:
        raise EventError(422, "invalid_event", f"{path}.type must be one of {', '.join(EVENT_TYPES)}.")
    device = raw.get("device")
    if not isinstance(device, dict):
        raise EventError(422, "invalid_event", f"{path}.device must be an object.")
    device_type = device.get("type") or "other"
    if device_type not in DEVICE_TYPES:
        device_type = "other"
    event = {
        "event_id": _text(raw.get("id"), f"{path}.id", required=True, max_len=255),
        "type": event_type,
        "occurred_at": parse_datetime(raw.get("occurred_at"), f"{path}.occurred_at"),
        "site_id": _text(raw.get("site_id"), f"{path}.site_id", required=True, max_len=255),
        "device_id": _text(device.get("id"), f"{path}.device.id", required=True, max_len=255),
        "device_name": _text(device.get("name"), f"{path}.device.name", max_len=255),
        "device_type": device_type,
        "alert_id": "",
        "severity": "",
        "title": "",
        "message": "",
    }
    if event_type in ALERT_TYPES:
        alert = raw.get("alert")
        if not isinstance(alert, dict):
            raise EventError(422, "invalid_event", f"{path}.alert must be an object for {event_type}.")
        severity = _text(alert.get("severity"), f"{path}.alert.severity") or "warning"
        if severity.lower() not in SEVERITIES:
            raise EventError(422, "invalid_event", f"{path}.alert.severity must be one of {', '.join(SEVERITIES)}.")
        event.update(
            alert_id=_text(alert.get("id"), f"{path}.alert.id", required=True, max_len=255),
            severity=severity.lower(),
            title=_text(alert.get("title"), f"{path}.alert.title", max_len=255) or "RMM alert",
            message=_text(alert.get("message"), f"{path}.alert.message"),
        )
    return event


def normalize_batch(data):
    """One event object, a list of them, or ``{"events": [...]}`` -> a list of normalized events."""
    if isinstance(data, dict) and "events" in data:
        data = data["events"]
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data:
        raise EventError(422, "invalid_event", 'Expected an event, a list of events or {"events": [...]}.')
    if len(data) > MAX_BATCH:
        raise EventError(413, "batch_too_large", f"A batch holds at most {MAX_BATCH} events.")
    return [normalize_event(raw, index) for index, raw in enumerate(data)]


def priority_for(severity):
    """helpdesk_mgmt priority for an RMM severity (medium when unknown)."""
    return SEVERITY_PRIORITY.get((severity or "").lower(), "1")
