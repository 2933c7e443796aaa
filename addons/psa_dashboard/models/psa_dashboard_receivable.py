from odoo import fields, models, tools
from odoo.tools import SQL

OVERDUE_BUCKETS = [
    ("not_due", "Not due"),
    ("1_30", "1-30 days overdue"),
    ("31_60", "31-60 days overdue"),
    ("61_90", "61-90 days overdue"),
    ("91_plus", "Over 90 days overdue"),
]


class PsaDashboardReceivable(models.Model):
    """Posted customer invoices and credit notes, in company currency, with what is still open and how
    late it is today: the cash figures of the dashboard (overdue by age, days sales outstanding).

    An open credit note lowers what is open (the customer's credit), but it is never overdue: only
    invoices are late (a credit note past its due date made the overdue figure negative)."""

    _name = "psa.dashboard.receivable"
    _inherit = ["psa.reporting.mixin"]
    _description = "PSA Dashboard: Receivables"
    _auto = False
    _order = "invoice_date_due, id"

    move_id = fields.Many2one("account.move", string="Invoice", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    invoice_date = fields.Date(readonly=True)
    invoice_date_due = fields.Date(string="Due Date", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    amount_total = fields.Monetary(string="Invoiced", currency_field="currency_id", readonly=True)
    amount_residual = fields.Monetary(string="Open", currency_field="currency_id", readonly=True)
    amount_overdue = fields.Monetary(string="Overdue", currency_field="currency_id", readonly=True)
    is_open = fields.Boolean(string="Open", readonly=True)
    days_overdue = fields.Integer(string="Days Overdue", readonly=True, aggregator="max")
    overdue_bucket = fields.Selection(OVERDUE_BUCKETS, string="Overdue", readonly=True)
    invoiced_last_365 = fields.Boolean(string="Invoiced in the Last 365 Days", readonly=True)

    def _psa_query(self):
        """Hook for extensions: the query of the view (its columns are the fields of this model)."""
        return SQL(
            """
            SELECT move.id,
                   move.id AS move_id,
                   move.company_id,
                   move.commercial_partner_id AS partner_id,
                   move.invoice_date,
                   move.invoice_date_due,
                   company.currency_id,
                   move.amount_total_signed AS amount_total,
                   move.amount_residual_signed AS amount_residual,
                   CASE WHEN move.move_type = 'out_invoice' AND move.invoice_date_due < CURRENT_DATE
                        THEN move.amount_residual_signed ELSE 0 END AS amount_overdue,
                   move.amount_residual_signed <> 0 AS is_open,
                   CASE WHEN move.move_type = 'out_invoice' THEN GREATEST(CURRENT_DATE - move.invoice_date_due, 0)
                        ELSE 0 END AS days_overdue,
                   CASE WHEN move.move_type <> 'out_invoice' OR move.invoice_date_due >= CURRENT_DATE THEN 'not_due'
                        WHEN CURRENT_DATE - move.invoice_date_due <= 30 THEN '1_30'
                        WHEN CURRENT_DATE - move.invoice_date_due <= 60 THEN '31_60'
                        WHEN CURRENT_DATE - move.invoice_date_due <= 90 THEN '61_90'
                        ELSE '91_plus' END AS overdue_bucket,
                   move.invoice_date > CURRENT_DATE - 365 AS invoiced_last_365
              FROM account_move move
              JOIN res_company company ON company.id = move.company_id
             WHERE move.move_type IN ('out_invoice', 'out_refund')
               AND move.state = 'posted'
            """
        )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(SQL("CREATE OR REPLACE VIEW %s AS (%s)", SQL.identifier(self._table), self._psa_query()))
