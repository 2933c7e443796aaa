"""Rate change arithmetic, without ORM.

A rate change moves the time of an engagement that is not invoiced yet and dated on or after the effective
date to a new order line (the new rate). Time before the date or already invoiced keeps the old rate, and
the old line keeps only the part of its ordered quantity that this time consumed.
"""

from collections import namedtuple

TimeEntry = namedtuple("TimeEntry", ["key", "date", "hours", "invoiced"])


def split_entries(entries, effective_date):
    """Split time entries into those that move to the new rate and those that stay.

    :return: ``(moving, staying)`` lists of entry keys; an entry moves when it is not invoiced and dated
        on or after ``effective_date``.
    """
    moving, staying = [], []
    for entry in entries:
        if not entry.invoiced and entry.date >= effective_date:
            moving.append(entry.key)
        else:
            staying.append(entry.key)
    return moving, staying


def split_commitment(ordered, staying_quantity):
    """Share the ordered quantity of the old line between the old rate and the new one.

    The old line keeps what the time staying at its rate consumed (never more than was ordered); the rest
    of the ordered quantity is still to be delivered and moves to the new rate.

    :return: ``(kept, moved)`` with ``kept + moved == ordered``
    """
    if ordered <= 0:
        return ordered, 0.0
    kept = round(min(ordered, max(staying_quantity, 0.0)), 2)
    return kept, round(ordered - kept, 2)
