"""Every key of the billing run in one module: exactly-once keys and invoice group keys.

An exactly-once key (``BillingKey``) names one billed unit: one source record in one period. Its
parts are stored as columns of ``psa.billing.key`` (its ``name`` is their unique text form): code
that needs them reads the columns, nothing parses a name back. A group key decides which billable
lines share an invoice. Pure Python, no ORM.
"""

from typing import NamedTuple

GROUPINGS = ("order", "customer", "po")

# periods of the keys whose source is a time entry
TIME_PERIOD = "time"
INTERCOMPANY_PERIOD = "intercompany"


class BillingKey(NamedTuple):
    """The exactly-once key of a billed unit: ``source_model`` record ``source_res_id`` in ``period``."""

    source_model: str
    source_res_id: int
    period: str

    @property
    def name(self):
        return billing_key(self.source_model, self.source_res_id, self.period)


def exactly_once_key(source_model, source_id, period):
    """The ``BillingKey`` of one source (record) in one period.

    ``period`` is whatever identifies the billed slice of the source: the date of an RMM charge,
    the start of an agreement period, the invoiced-quantity watermark of an order line
    (``quantity_watermark``), ``TIME_PERIOD`` for a time entry.
    """
    return BillingKey(source_model, int(source_id), str(period))


def billing_key(source_model, source_id, period):
    """The text form (``psa.billing.key.name``, unique) of an exactly-once key."""
    return f"{source_model}:{source_id}:{period}"


def quantity_watermark(quantity, digits=4):
    """A stable text form of an already-invoiced quantity (``2.5`` and ``2.50001`` differ)."""
    value = round(float(quantity or 0.0), digits)
    if value == 0:
        value = 0.0  # no "-0.0"
    return f"{value:.{digits}f}"


def invoice_group_key(grouping, company_id, partner_id, currency_id, order_id, po_reference=None):
    """The key that decides which billable order lines end up on the same invoice.

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


def source_group_key(grouping, company_id, partner_id, currency_id):
    """The invoice of a source without an order (RMM charges, other add-ons' sources): with the
    customer's other lines when grouping per customer, else one invoice per customer for them."""
    base = f"{company_id}-{partner_id}-{currency_id}"
    return f"customer:{base}" if grouping == "customer" else f"sources:{base}"


def agreement_group_key(contract_id, date_ref):
    """One invoice per agreement and invoice date, as OCA ``contract`` invoices it."""
    return f"contract:{contract_id}:{date_ref}"


def intercompany_group_key(seller_company_id, buyer_partner_id, currency_id):
    """One invoice per selling company, buying company and currency."""
    return f"intercompany:{seller_company_id}-{buyer_partner_id}-{currency_id}"
