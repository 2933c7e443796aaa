from odoo import api, fields, models, tools
from odoo.tools import SQL


class PsaEngagementProfitability(models.Model):
    """Engagement profitability: one row per company, project, customer and month, read from one SQL view.

    Definitions (all amounts untaxed, in the currency of the row's company):

    - **Which order lines count**: the lines of confirmed orders (``state = 'sale'``), not sections or notes,
      not down payments (an advance is neither committed work nor revenue; its deduction on the final
      invoice is left out too). A line counts for one project only, the first of: the project it created
      (``sale.order.line.project_id``), the project of the task it created, the project it is the billed
      line of (``project.project.sale_line_id``), of a task's line, of an employee mapping; else its
      order's engagement (``psa_engagement_project_id``, then ``sale.order.project_id``), else the project
      of another line of the same order. A line on no project is not counted.
    - **Committed**: the lines' untaxed subtotal, converted at the order's rate (the rate of its order date,
      as Odoo's Sales Analysis does); dated on the order date.
    - **Delivered**: delivered quantity x unit price after discount, untaxed, at the order's rate; for time
      that is approved (or invoiced) time only, as the order line counts it; dated on the order date.
    - **Invoiced**: posted customer invoices minus posted credit notes, the invoice lines linked to those
      order lines, in company currency as booked (``-balance``, at the invoice's rate); dated on the
      invoice date. A draft or cancelled invoice does not count; a reversed invoice nets to zero.
    - **Cost**: the cost of the time spent on the project (``account.analytic.line.amount`` of its time
      entries, Odoo's employee hourly cost, sign turned positive), whatever its approval state except
      rejected; dated on the entry date. **Hours** are the same entries' hours.
    - **Margin** = delivered - cost; **Margin %** = margin / delivered x 100 (empty when nothing is
      delivered), computed from the sums of whatever rows a pivot or graph groups together.
    - **To Invoice** = delivered - invoiced.

    The customer is the commercial entity of the project's customer, else of the order or invoice (the
    time of a project without customer has none); the project manager is the project's. Agreement
    (contract) invoices and intercompany time are not on order lines and are not counted here.
    """

    _name = "psa.engagement.profitability"
    _inherit = ["psa.reporting.mixin"]
    _description = "Engagement Profitability"
    _auto = False
    _rec_name = "project_id"
    _order = "date desc, project_id"

    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    project_id = fields.Many2one("project.project", string="Project", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    user_id = fields.Many2one("res.users", string="Project Manager", readonly=True)
    date = fields.Date(string="Month", readonly=True, help="Order date, invoice date or time entry date.")
    committed_amount = fields.Monetary(string="Committed", readonly=True)
    delivered_amount = fields.Monetary(string="Delivered", readonly=True)
    invoiced_amount = fields.Monetary(string="Invoiced", readonly=True)
    to_invoice_amount = fields.Monetary(string="To Invoice", readonly=True, help="Delivered minus invoiced.")
    cost_amount = fields.Monetary(string="Cost of Time", readonly=True)
    hours = fields.Float(string="Hours Spent", readonly=True)
    margin = fields.Monetary(readonly=True, help="Delivered minus cost of time.")
    margin_percent = fields.Float(
        string="Margin %", readonly=True, aggregator="avg", help="Margin over delivered, of the grouped rows."
    )

    @api.model
    def _read_group_select(self, aggregate_spec, query):
        # a ratio of sums, not an average of ratios: what a pivot or graph cell of margin % must show
        if aggregate_spec.split(":")[0] == "margin_percent":
            margin = super()._read_group_select("margin:sum", query)
            delivered = super()._read_group_select("delivered_amount:sum", query)
            return SQL("100.0 * %s / NULLIF(%s, 0)", margin, delivered)
        return super()._read_group_select(aggregate_spec, query)

    @api.model
    def _psa_facts_query(self):
        """Hook for extensions: the dated figures (order lines; invoice lines and time entries summed per
        project, customer and month, the smallest id of each sum making its ``fact_id``).

        Columns: fact_id (unique: source id x 3 + 0, 1 or 2), company_id, project_id, partner_id, date,
        committed, delivered, invoiced, cost, hours. An extension adds a source with ``UNION ALL`` and the
        same columns (and a fact_id of its own).
        """
        return SQL(
            """
            WITH line_own_project AS (
                SELECT sol.id AS sale_line_id,
                       sol.order_id,
                       COALESCE(
                           sol.project_id,
                           line_task.project_id,
                           (SELECT MIN(p.id) FROM project_project p WHERE p.sale_line_id = sol.id),
                           (SELECT MIN(t.project_id) FROM project_task t WHERE t.sale_line_id = sol.id),
                           (SELECT MIN(m.project_id) FROM project_sale_line_employee_map m
                             WHERE m.sale_line_id = sol.id)
                       ) AS project_id
                  FROM sale_order_line sol
                  JOIN sale_order so ON so.id = sol.order_id AND so.state = 'sale'
             LEFT JOIN project_task line_task ON line_task.id = sol.task_id
                 WHERE sol.display_type IS NULL AND sol.is_downpayment IS NOT TRUE
            ),
            line_project AS (
                SELECT own.sale_line_id,
                       COALESCE(own.project_id, so.psa_engagement_project_id, so.project_id,
                                MIN(own.project_id) OVER (PARTITION BY own.order_id)) AS project_id
                  FROM line_own_project own
                  JOIN sale_order so ON so.id = own.order_id
            )
            SELECT sol.id * 3 AS fact_id,
                   sol.company_id,
                   lp.project_id,
                   so.partner_id,
                   so.date_order::date AS date,
                   sol.price_subtotal / COALESCE(NULLIF(so.currency_rate, 0), 1.0) AS committed,
                   sol.qty_delivered::numeric * sol.price_reduce_taxexcl
                       / COALESCE(NULLIF(so.currency_rate, 0), 1.0) AS delivered,
                   0::numeric AS invoiced,
                   0::numeric AS cost,
                   0::float8 AS hours
              FROM line_project lp
              JOIN sale_order_line sol ON sol.id = lp.sale_line_id
              JOIN sale_order so ON so.id = sol.order_id
             WHERE lp.project_id IS NOT NULL
            UNION ALL
            SELECT MIN(aml.id) * 3 + 1,
                   aml.company_id,
                   lp.project_id,
                   move.commercial_partner_id,
                   date_trunc('month', COALESCE(move.invoice_date, move.date)::timestamp)::date,
                   0::numeric,
                   0::numeric,
                   -SUM(aml.balance),
                   0::numeric,
                   0::float8
              FROM (SELECT invoice_line_id, MIN(order_line_id) AS sale_line_id
                      FROM sale_order_line_invoice_rel
                  GROUP BY invoice_line_id) link
              JOIN line_project lp ON lp.sale_line_id = link.sale_line_id AND lp.project_id IS NOT NULL
              JOIN account_move_line aml ON aml.id = link.invoice_line_id
              JOIN account_move move ON move.id = aml.move_id
             WHERE move.state = 'posted' AND move.move_type IN ('out_invoice', 'out_refund')
          GROUP BY aml.company_id, lp.project_id, move.commercial_partner_id,
                   date_trunc('month', COALESCE(move.invoice_date, move.date)::timestamp)::date
            UNION ALL
            -- time entries are the many: summed per project, customer and month before the joins. A month is
            -- date_trunc of date::timestamp: the same first day as date_trunc of the date itself, which casts
            -- each date to timestamptz through the session time zone (a fifth of this branch's time)
            SELECT MIN(aal.id) * 3 + 2,
                   aal.company_id,
                   aal.project_id,
                   NULL::int,  -- a time entry's partner is not a customer: the project's customer is used
                   date_trunc('month', aal.date::timestamp)::date,
                   0::numeric,
                   0::numeric,
                   0::numeric,
                   -SUM(aal.amount),
                   SUM(aal.unit_amount)
              FROM account_analytic_line aal
             WHERE aal.project_id IS NOT NULL AND aal.psa_approval_state IS DISTINCT FROM 'rejected'
          GROUP BY aal.company_id, aal.project_id, date_trunc('month', aal.date::timestamp)::date
            """
        )

    @api.model
    def _psa_view_query(self):
        return SQL(
            """
            SELECT MIN(fact.fact_id) AS id,
                   fact.company_id,
                   company.currency_id,
                   fact.project_id,
                   COALESCE(project_partner.commercial_partner_id, fact_partner.commercial_partner_id)
                       AS partner_id,
                   project.user_id,
                   date_trunc('month', fact.date::timestamp)::date AS date,
                   SUM(fact.committed) AS committed_amount,
                   SUM(fact.delivered) AS delivered_amount,
                   SUM(fact.invoiced) AS invoiced_amount,
                   SUM(fact.delivered) - SUM(fact.invoiced) AS to_invoice_amount,
                   SUM(fact.cost) AS cost_amount,
                   SUM(fact.hours) AS hours,
                   SUM(fact.delivered) - SUM(fact.cost) AS margin,
                   100.0 * (SUM(fact.delivered) - SUM(fact.cost)) / NULLIF(SUM(fact.delivered), 0)
                       AS margin_percent
              FROM (%(facts)s) fact
              JOIN project_project project ON project.id = fact.project_id
              JOIN res_company company ON company.id = fact.company_id
         LEFT JOIN res_partner project_partner ON project_partner.id = project.partner_id
         LEFT JOIN res_partner fact_partner ON fact_partner.id = fact.partner_id
          GROUP BY fact.company_id, company.currency_id, fact.project_id,
                   COALESCE(project_partner.commercial_partner_id, fact_partner.commercial_partner_id),
                   project.user_id, date_trunc('month', fact.date::timestamp)::date
            """,
            facts=self._psa_facts_query(),
        )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL("CREATE OR REPLACE VIEW %s AS (%s)", SQL.identifier(self._table), self._psa_view_query())
        )
