"""Pricing of auto-resolved RMM events and proration of devices. Plain Python, no ORM."""

from datetime import date, datetime, timedelta


def price_event(rank_in_month, included, event_price, overage_price):
    """Unit price and rule for the ``rank_in_month``-th (1-based) charged event of a customer's month.

    The first ``included`` events of the month cost nothing; the next ones cost ``overage_price``
    (``event_price`` when no overage price is set). Without an included quantity every event costs
    ``event_price``.
    """
    if included and rank_in_month <= included:
        return 0.0, f"event {rank_in_month} of {included} included this month"
    if included:
        price = overage_price or event_price
        return price, f"event {rank_in_month} beyond the {included} included this month: overage at {price:.2f}"
    return event_price, f"per-event price {event_price:.2f}"


def _as_date(value):
    if isinstance(value, datetime):
        return value.date()
    return value


def prorated_quantity(periods, period_start, period_end):
    """Sum, over devices, of the share of the period [period_start, period_end] (dates, inclusive)
    during which each was active. ``periods`` is an iterable of (active_from, active_to or None).

    Returns (quantity rounded to 2 decimals, list of per-device shares in the input order).
    """
    period_start, period_end = _as_date(period_start), _as_date(period_end)
    days = (period_end - period_start).days + 1
    shares = []
    for active_from, active_to in periods:
        start = max(_as_date(active_from) or period_start, period_start)
        end = min(_as_date(active_to) or period_end, period_end)
        active_days = (end - start).days + 1 if end >= start else 0
        shares.append(round(active_days / days, 4) if days > 0 else 0.0)
    return round(sum(shares), 2), shares


def month_bounds(day):
    """First and last date of the month of ``day``."""
    day = _as_date(day)
    first = date(day.year, day.month, 1)
    following = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return first, following - timedelta(days=1)
