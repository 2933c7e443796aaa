"""What a billing source hands the billing run: one typed value per thing to bill (or skip). No ORM."""

import dataclasses
from dataclasses import dataclass, field

# the fields of a BillableItem that are no column of psa.billing.run.line: the run uses them to invoice
INVOICING_FIELDS = (
    "keys", "invoice_line_vals", "invoice_vals", "timesheet_ids", "receipt_ids", "order", "analytic_distribution",
)  # fmt: skip


@dataclass
class BillableItem:
    """One thing a billing run bills (``kind`` "bill") or lists as skipped, and how.

    The first fields are those of the run line (``psa.billing.run.line``, ids for relations); the
    last ones (``INVOICING_FIELDS``) say how it is invoiced:

    * ``keys``: its exactly-once keys (``tools.billing_keys.BillingKey``), inserted with the invoice;
    * ``invoice_line_vals``: the ``account.move.line`` values (with ``psa_billing_explanation``), or
      ``None`` for an order line, prepared from it when billed;
    * ``invoice_vals``: the invoice header of a source without an order (agreements, other sources);
    * ``timesheet_ids`` / ``receipt_ids``: time entries linked to the invoice, receipts attached to it;
    * ``order``: the sale order a skip rule may look at (order lines only);
    * ``analytic_distribution``: the distribution the invoice line of an order line gets from its project,
      looked up for the whole batch before the lines are prepared (``None``: Odoo looks it up).
    """

    company_id: int
    partner_id: int
    name: str = ""
    kind: str = "bill"
    state: str = "pending"
    source_type: str = False
    currency_id: int = False
    quantity: float = 0.0
    price_unit: float = 0.0
    amount: float = 0.0
    explanation: str = False
    skip_reason: str = False
    group_key: str = False
    order_id: int = False
    sale_line_id: int = False
    contract_id: int = False
    contract_line_id: int = False
    source_model: str = False
    source_res_id: int = False
    source_name: str = False
    # other run-line values (e.g. ``timesheet_ids`` commands of an intercompany line)
    line_vals: dict = field(default_factory=dict)
    keys: list = field(default_factory=list)
    invoice_line_vals: dict = None
    invoice_vals: dict = None
    timesheet_ids: list = field(default_factory=list)
    receipt_ids: list = field(default_factory=list)
    order: object = None
    analytic_distribution: dict = None

    @property
    def billable(self):
        return self.kind == "bill"

    def skip(self, reason):
        """Turn the item into a skipped one, with the reason a person reads on the run."""
        self.kind, self.state, self.skip_reason = "skip", "skipped", reason

    def source_ref(self):
        """``(model, id)`` of what the item bills: a source record, an agreement line or an order line."""
        if self.source_model:
            return (self.source_model, self.source_res_id)
        if self.contract_line_id:
            return ("contract.line", self.contract_line_id)
        return ("sale.order.line", self.sale_line_id or None)

    def run_line_vals(self, run_id):
        """The values of the ``psa.billing.run.line`` that shows the item on run ``run_id``."""
        vals = {
            item_field.name: getattr(self, item_field.name)
            for item_field in dataclasses.fields(self)
            if item_field.name not in INVOICING_FIELDS and item_field.name != "line_vals"
        }
        return {**vals, **self.line_vals, "run_id": run_id}
