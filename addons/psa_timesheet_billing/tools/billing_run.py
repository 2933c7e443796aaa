"""Pure calculations of the billing run: no ORM, so they are unit-tested without a database."""

GROUPINGS = ("order", "customer", "po")


def invoice_group_key(grouping, company_id, partner_id, currency_id, order_id, po_reference=None):
    """The key that decides which billable lines end up on the same invoice.

    ``per order``: one invoice per sale order; ``per customer``: one invoice per invoiced partner,
    company and currency; ``per PO``: as per customer, split by the customer's PO reference.
    """
    if grouping not in GROUPINGS:
        raise ValueError(f"unknown grouping {grouping!r}")
    base = f"{company_id}-{partner_id}-{currency_id}"
    if grouping == "order":
        return f"order:{base}-{order_id}"
    if grouping == "po":
        return f"po:{base}-{(po_reference or '').strip()}"
    return f"customer:{base}"


def billing_key(source_model, source_id, period):
    """The exactly-once key of a billed unit: one source (record) in one period.

    ``period`` is whatever identifies the billed slice of the source: the date of a time entry,
    the start of an agreement period, the invoiced-quantity watermark of an order line.
    """
    return f"{source_model}:{source_id}:{period}"


def quantity_watermark(quantity, digits=4):
    """A stable text form of an already-invoiced quantity (``2.5`` and ``2.50001`` differ)."""
    value = round(float(quantity or 0.0), digits)
    if value == 0:
        value = 0.0  # no "-0.0"
    return f"{value:.{digits}f}"


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
