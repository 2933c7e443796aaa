"""Proration of recurring agreement lines: pure date arithmetic, no ORM."""

from datetime import timedelta

from dateutil.relativedelta import relativedelta

RULE_TYPES = ("daily", "weekly", "monthly", "monthlylastday", "quarterly", "semesterly", "yearly")


def period_step(rule_type, interval):
    """The length of one recurring period of OCA ``contract``'s ``rule_type`` every ``interval``."""
    steps = {
        "daily": relativedelta(days=interval),
        "weekly": relativedelta(weeks=interval),
        "monthly": relativedelta(months=interval),
        "monthlylastday": relativedelta(months=interval),
        "quarterly": relativedelta(months=3 * interval),
        "semesterly": relativedelta(months=6 * interval),
        "yearly": relativedelta(years=interval),
    }
    if rule_type not in steps:
        raise ValueError(f"unknown recurrence {rule_type!r}")
    return steps[rule_type]


def full_period(first_date, rule_type, interval, period_end=None):
    """The whole recurring period a billed slice belongs to: ``(start, end)``, both included.

    With ``period_end`` (the end of the agreement's period the slice is billed in) the period is
    the one ending then, whatever the recurrence. Without it, ``monthlylastday`` periods are
    calendar months and the other rules count their period from ``first_date`` (OCA ``contract``).
    """
    step = period_step(rule_type, interval)
    if period_end:
        if first_date + step - timedelta(days=1) == period_end:
            # the slice starts the period, as OCA counts it: a period starting on 31 January ends on
            # 27 February, counted back from its end it would start on 28 January
            return first_date, period_end
        return period_end + timedelta(days=1) - step, period_end
    if rule_type == "monthlylastday":
        start = first_date.replace(day=1)
        return start, start + step - timedelta(days=1)
    return first_date, first_date + step - timedelta(days=1)


def proration_days(first_date, last_date, rule_type, interval, period_end=None):
    """``(days billed, days in the full period)`` for the slice ``first_date``..``last_date``.

    The share billed is the first over the second. A line that starts (change order) or ends
    (scope decrease) inside a period bills only its days. The slice is one period as OCA
    ``contract`` defines it for the line: it never bills more than one full period, even when it is
    longer (a first period running up to a later invoice date: OCA bills it once, so do we).
    """
    start, end = full_period(first_date, rule_type, interval, period_end)
    full = (end - start).days + 1
    if period_end:
        return max(0, min((last_date - first_date).days + 1, full)), full
    covered = (min(last_date, end) - max(first_date, start)).days + 1
    return max(0, min(covered, full)), full
