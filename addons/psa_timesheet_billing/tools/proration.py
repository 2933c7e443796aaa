"""Proration of recurring agreement lines: pure date arithmetic, no ORM."""

from datetime import timedelta

from dateutil.relativedelta import relativedelta


def full_period(first_date, rule_type, interval):
    """The whole recurring period ``first_date`` falls in: ``(start, end)``, both included.

    ``monthlylastday`` periods are calendar months; the other rules count their periods from the
    first date billed (OCA ``contract``), so such a period can only be cut short by the line's end.
    """
    if rule_type == "monthlylastday":
        start = first_date.replace(day=1)
        return start, start + relativedelta(months=interval) - timedelta(days=1)
    steps = {
        "daily": relativedelta(days=interval),
        "weekly": relativedelta(weeks=interval),
        "monthly": relativedelta(months=interval),
        "quarterly": relativedelta(months=3 * interval),
        "semesterly": relativedelta(months=6 * interval),
        "yearly": relativedelta(years=interval),
    }
    return first_date, first_date + steps.get(rule_type, relativedelta(years=interval)) - timedelta(days=1)


def proration_days(first_date, last_date, rule_type, interval):
    """``(days billed, days in the full period)`` for the slice ``first_date``..``last_date``.

    A line that starts (change order) or ends (scope decrease) inside a period bills only its days.
    """
    start, end = full_period(first_date, rule_type, interval)
    full = (end - start).days + 1
    covered = (min(last_date, end) - max(first_date, start)).days + 1
    return max(0, min(covered, full)), full
