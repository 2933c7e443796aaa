"""Scope decrease arithmetic, without ORM.

A scope decrease removes planned hours from the open tasks of an engagement. Hours already spent
(timesheeted, hence possibly invoiced) are never removed: a task keeps at least what was spent on it.
"""

from collections import namedtuple

OpenTask = namedtuple("OpenTask", ["key", "allocated", "spent"])


def distribute_decrease(hours, tasks):
    """Spread ``hours`` to remove over ``tasks`` (in the order given, the last planned first is the
    caller's choice) without going below the hours spent on each.

    :return: ``({key: new allocated hours}, shortfall)``; shortfall > 0 means the decrease does not fit
        in the remaining planned hours and must be refused.
    """
    left = round(hours, 2)
    new_allocated = {}
    for task in tasks:
        if left <= 0:
            break
        removable = round(max(task.allocated - max(task.spent, 0.0), 0.0), 2)
        taken = min(removable, left)
        if taken > 0:
            new_allocated[task.key] = round(task.allocated - taken, 2)
            left = round(left - taken, 2)
    return new_allocated, max(left, 0.0)
