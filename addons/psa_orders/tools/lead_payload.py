"""Validation of a lead posted as JSON by an external website, without ORM."""

import json
import re

MAX_PAYLOAD_BYTES = 16 * 1024
HONEYPOT_FIELD = "website"
FIELD_LIMITS = {
    "name": 128,
    "email": 254,
    "phone": 64,
    "company": 128,
    "subject": 200,
    "message": 8000,
    HONEYPOT_FIELD: 512,
}
EMAIL_RE = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]{2,}$")


class LeadPayloadError(ValueError):
    """Bad input: ``code`` for machines, the message for people."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def parse_lead_payload(raw):
    """Decode and validate a posted lead; return the cleaned fields (a dict of str).

    :raise LeadPayloadError: ``payload_too_large``, ``invalid_json``, ``unknown_field``,
        ``invalid_field``, ``missing_field``, ``invalid_email`` or ``spam`` (the honeypot field is filled)
    """
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise LeadPayloadError("payload_too_large", f"The payload exceeds {MAX_PAYLOAD_BYTES} bytes.")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise LeadPayloadError("invalid_json", "The body is not valid UTF-8 JSON.") from error
    if not isinstance(data, dict):
        raise LeadPayloadError("invalid_json", "The body must be a JSON object.")
    unknown = sorted(set(data) - set(FIELD_LIMITS))
    if unknown:
        raise LeadPayloadError("unknown_field", "Unknown field(s): " + ", ".join(unknown) + ".")
    cleaned = {}
    for field, limit in FIELD_LIMITS.items():
        value = data.get(field)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > limit:
            raise LeadPayloadError("invalid_field", f"Field {field} must be a text of at most {limit} characters.")
        value = value.strip()
        if value:
            cleaned[field] = value
    if cleaned.get(HONEYPOT_FIELD):
        raise LeadPayloadError("spam", "The request was rejected.")
    for field in ("name", "email"):
        if not cleaned.get(field):
            raise LeadPayloadError("missing_field", f"Field {field} is required.")
    if not EMAIL_RE.match(cleaned["email"]):
        raise LeadPayloadError("invalid_email", "Field email is not a valid email address.")
    cleaned["email"] = cleaned["email"].lower()
    return cleaned
