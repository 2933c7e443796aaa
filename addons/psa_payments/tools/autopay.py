"""Auto-pay calculations, with no ORM: when an invoice may be charged, for how much, with which key."""

from datetime import timedelta

DEFAULT_RETRY_DAYS = (3, 7)


def parse_retry_days(text):
    """``"3, 7"`` -> ``(3, 7)``: retry offsets in days after the first failed attempt, ascending.

    Empty or invalid text gives the default schedule; non-positive and repeated values are dropped.
    """
    try:
        days = sorted({int(part) for part in (text or "").split(",") if part.strip()})
    except ValueError:
        return DEFAULT_RETRY_DAYS
    days = tuple(day for day in days if day > 0)
    return days or DEFAULT_RETRY_DAYS


def first_charge_date(trigger, invoice_date, due_date, hold_days=0):
    """The first day an invoice may be charged under a mandate.

    ``trigger`` is ``"posting"`` (charge from the invoice date) or ``"due_date"``; the hold keeps the
    invoice untouched for ``hold_days`` after its date, whichever comes later.
    """
    base = invoice_date if trigger == "posting" else (due_date or invoice_date)
    held_until = invoice_date + timedelta(days=max(hold_days or 0, 0))
    return max(base, held_until)


def next_retry_date(first_failure_date, failed_count, retry_days):
    """The day of the next retry after ``failed_count`` failed attempts, or ``None`` when exhausted."""
    if failed_count < 1 or failed_count > len(retry_days):
        return None
    return first_failure_date + timedelta(days=retry_days[failed_count - 1])


def amount_to_charge(residual, cap=0.0):
    """``(amount, refusal)``: what to charge on an open residual under a per-invoice cap (0 = no cap).

    The whole residual is charged or nothing: a capped invoice is refused, not charged in part.
    """
    if residual <= 0:
        return 0.0, "nothing_due"
    if cap and residual > cap:
        return 0.0, "above_cap"
    return residual, None


def idempotency_key(database_uuid, invoice_id, attempt_number):
    """The key sent with a charge: the same invoice and attempt always give the same key."""
    return f"psa-{(database_uuid or '')[:8]}-inv{invoice_id}-a{attempt_number}"
