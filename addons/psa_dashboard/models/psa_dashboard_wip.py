from odoo import fields, models, tools
from odoo.tools import SQL

WIP_KINDS = [
    ("time_approved", "Approved time not billed"),
    ("milestone", "Reached milestones not billed"),
    ("time_to_approve", "Time waiting for approval"),
]
AGE_BUCKETS = [
    ("0_30", "0-30 days"),
    ("31_60", "31-60 days"),
    ("61_90", "61-90 days"),
    ("91_plus", "Over 90 days"),
]


def age_bucket_sql(date_column):
    """The age bucket (a key of ``AGE_BUCKETS``) of ``date_column`` today, as a SQL expression."""
    return SQL(
        """CASE WHEN CURRENT_DATE - %(date)s <= 30 THEN '0_30'
                WHEN CURRENT_DATE - %(date)s <= 60 THEN '31_60'
                WHEN CURRENT_DATE - %(date)s <= 90 THEN '61_90'
                ELSE '91_plus' END""",
        date=date_column,
    )


class PsaDashboardWip(models.Model):
    """Work in progress, one row per thing not billed yet: an approved time entry on an order line, a
    milestone order line with reached milestones beyond what is invoiced, a time entry waiting for approval.

    The value is what the billing run would bill: hours a prepaid fund does not pay for, in the order
    line's unit at its net price; the reached share of a milestone line less what is invoiced. The age
    counts from the entry's date (the last milestone reached) to today, so the buckets move by themselves."""

    _name = "psa.dashboard.wip"
    _inherit = ["psa.reporting.mixin"]
    _description = "PSA Dashboard: Work in Progress"
    _auto = False
    _order = "date desc, id desc"

    company_id = fields.Many2one("res.company", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    project_id = fields.Many2one("project.project", readonly=True)
    sale_line_id = fields.Many2one("sale.order.line", string="Order Line", readonly=True)
    timesheet_id = fields.Many2one("account.analytic.line", string="Time Entry", readonly=True)
    kind = fields.Selection(WIP_KINDS, readonly=True)
    date = fields.Date(readonly=True)
    age_bucket = fields.Selection(AGE_BUCKETS, string="Age", readonly=True)
    hours = fields.Float(readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    amount = fields.Monetary(string="Value", currency_field="currency_id", readonly=True)

    def _psa_query(self):
        """Hook for extensions: the query of the view (its columns are the fields of this model)."""
        return SQL(
            """
            SELECT aal.id * 2 AS id,
                   aal.company_id,
                   partner.commercial_partner_id AS partner_id,
                   aal.project_id,
                   aal.so_line AS sale_line_id,
                   aal.id AS timesheet_id,
                   CASE WHEN aal.psa_approval_state = 'approved' THEN 'time_approved' ELSE 'time_to_approve' END
                       AS kind,
                   aal.date,
                   %(time_age)s AS age_bucket,
                   aal.unit_amount - COALESCE(covered.hours, 0) AS hours,
                   company.currency_id,
                   ROUND(
                       (COALESCE((aal.unit_amount - COALESCE(covered.hours, 0))
                                 / NULLIF(time_uom.factor, 0) * line_uom.factor, 0)
                        * COALESCE(sol.price_unit * (1 - COALESCE(sol.discount, 0) / 100.0), 0))::numeric,
                       2
                   ) AS amount
              FROM account_analytic_line aal
              JOIN res_company company ON company.id = aal.company_id
              JOIN project_project project ON project.id = aal.project_id
         LEFT JOIN sale_order_line sol ON sol.id = aal.so_line AND sol.qty_delivered_method = 'timesheet'
         LEFT JOIN uom_uom line_uom ON line_uom.id = sol.product_uom
         LEFT JOIN uom_uom time_uom ON time_uom.id = COALESCE(aal.product_uom_id, sol.product_uom)
         LEFT JOIN sale_order so ON so.id = sol.order_id
              JOIN res_partner partner ON partner.id = COALESCE(so.partner_id, aal.partner_id, project.partner_id)
         LEFT JOIN (
                    SELECT drawdown.timesheet_id, SUM(COALESCE(drawdown.covered_hours, 0)) AS hours
                      FROM psa_prepaid_drawdown drawdown
                  GROUP BY drawdown.timesheet_id
                   ) covered ON covered.timesheet_id = aal.id
             WHERE aal.project_id IS NOT NULL
               AND (aal.psa_approval_state = 'to_approve'
                    OR (aal.psa_approval_state = 'approved' AND sol.id IS NOT NULL
                        AND aal.unit_amount > COALESCE(covered.hours, 0)))
         UNION ALL
            SELECT sol.id * 2 + 1 AS id,
                   sol.company_id,
                   partner.commercial_partner_id AS partner_id,
                   reached.project_id,
                   sol.id AS sale_line_id,
                   NULL AS timesheet_id,
                   'milestone' AS kind,
                   reached.date,
                   %(milestone_age)s AS age_bucket,
                   0.0 AS hours,
                   company.currency_id,
                   ROUND(
                       ((sol.qty_delivered - sol.qty_invoiced)
                        * sol.price_unit * (1 - COALESCE(sol.discount, 0) / 100.0))::numeric,
                       2
                   ) AS amount
              FROM sale_order_line sol
              JOIN sale_order so ON so.id = sol.order_id
              JOIN res_company company ON company.id = sol.company_id
              JOIN res_partner partner ON partner.id = so.partner_id
              JOIN (
                    SELECT milestone.sale_line_id,
                           MAX(milestone.project_id) AS project_id,
                           MAX(COALESCE(milestone.reached_date, milestone.write_date::date)) AS date
                      FROM project_milestone milestone
                     WHERE milestone.is_reached AND milestone.sale_line_id IS NOT NULL
                  GROUP BY milestone.sale_line_id
                   ) reached ON reached.sale_line_id = sol.id
             WHERE sol.qty_delivered_method = 'milestones'
               AND so.state = 'sale'
               AND sol.qty_delivered > sol.qty_invoiced
            """,
            time_age=age_bucket_sql(SQL("aal.date")),
            milestone_age=age_bucket_sql(SQL("reached.date")),
        )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(SQL("CREATE OR REPLACE VIEW %s AS (%s)", SQL.identifier(self._table), self._psa_query()))
