"""Overdue reminder calculations, with no ORM: which reminder level an invoice has reached."""

DEFAULT_LEVEL_DAYS = "3,10,30"


def parse_level_days(text):
    """``"3, 10, 30"`` -> ``(3, 10, 30)``: days after the due date on which reminder levels 1, 2, 3... go out.

    Empty text gives ``()`` (no reminders). Raises ``ValueError`` for anything that is not a strictly
    ascending list of positive whole days, so a typo is refused in the settings instead of silently changing
    the schedule.
    """
    parts = [part.strip() for part in (text or "").split(",") if part.strip()]
    days = tuple(int(part) for part in parts)
    if any(day < 1 for day in days):
        raise ValueError("reminder days must be at least 1")
    if any(later <= earlier for earlier, later in zip(days, days[1:], strict=False)):
        raise ValueError("reminder days must be strictly ascending")
    return days


def level_reached(days_overdue, level_days):
    """The highest reminder level reached ``days_overdue`` days after the due date (0: none yet).

    A run that was missed for a while sends one reminder at the level reached, not every level it skipped.
    """
    return sum(1 for day in level_days if days_overdue >= day)


def new_level(days_overdue, level_days, level_sent):
    """The level to send now, or 0 when the reached level was already sent."""
    reached = level_reached(days_overdue, level_days)
    return reached if reached > level_sent else 0
