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


def staggered_chunks(items, size, workers):
    """Split ``items`` into batches of at most ``size`` whose first ones ramp up, order kept.

    ``workers`` job workers start on a run's first batches at the same moment, and every batch ends
    by taking invoice numbers in the journal and holding them until its commit (about a third of a
    batch): batches of equal size would all reach the numbering together and wait for each other.
    The first ``workers - 1`` batches are therefore ``size * k / workers`` items (k = 1, 2, ...), so each
    worker reaches the numbering after the one before released it, and the workers stay that far
    apart until the end of the run. One worker, or too few items for the ramp and a full batch: plain
    batches of ``size`` (``chunked``).
    """
    items = list(items)
    ramp = [max(1, round(size * k / workers)) for k in range(1, workers)] if workers > 1 else []
    if not ramp or sum(ramp) + size > len(items):
        return chunked(items, size)
    head, start = [], 0
    for count in ramp:
        head.append(items[start : start + count])
        start += count
    return head + chunked(items[start:], size)
