"""Pure calculations of the billing run: no ORM, so they are unit-tested without a database."""

# the key formats live in billing_keys; imported here for the add-ons that import them from this module
from .billing_keys import (  # noqa: F401
    GROUPINGS,
    BillingKey,
    billing_key,
    exactly_once_key,
    invoice_group_key,
    quantity_watermark,
)


def summarize_time(entries):
    """Summarize time entries given as ``(date, hours)`` pairs.

    :return: dict with ``count``, ``hours``, ``date_from``, ``date_to`` (dates ``None`` if empty)
    """
    dates = [entry_date for entry_date, _hours in entries]
    return {
        "count": len(entries),
        "hours": round(sum(hours for _date, hours in entries), 4),
        "date_from": min(dates) if dates else None,
        "date_to": max(dates) if dates else None,
    }


def chunked(items, size):
    """Split ``items`` into lists of at most ``size`` items, order kept."""
    if size < 1:
        raise ValueError("size must be at least 1")
    items = list(items)
    return [items[start : start + size] for start in range(0, len(items), size)]
