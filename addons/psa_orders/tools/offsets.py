"""Plan offsets such as "+14 days", "+2 weeks" or "+1 month", counted from an order's start date."""

import re

from dateutil.relativedelta import relativedelta

OFFSET_RE = re.compile(r"^\s*\+?\s*(\d{1,4})\s*(day|days|d|week|weeks|w|month|months|m)\s*$", re.IGNORECASE)
UNITS = {"d": "days", "w": "weeks", "m": "months"}


def parse_offset(text):
    """Return a ``relativedelta`` for an offset text, or ``None`` when the text is not an offset."""
    match = OFFSET_RE.match(text or "")
    if not match:
        return None
    number, unit = int(match.group(1)), match.group(2).lower()[0]
    return relativedelta(**{UNITS[unit]: number})


def apply_offset(start, text):
    """The date ``text`` after ``start``; ``None`` when there is no start date or no valid offset."""
    delta = parse_offset(text)
    if start is None or delta is None:
        return None
    return start + delta
