from odoo import api, fields, models
from odoo.tools import SQL


class PsaPrepaidDrawdown(models.Model):
    _name = "psa.prepaid.drawdown"
    _inherit = ["psa.reporting.mixin"]
    _description = "Prepaid Fund Draw-down"
    _order = "date, id"
    _check_company_auto = True

    fund_id = fields.Many2one("psa.prepaid.fund", required=True, index=True, ondelete="restrict")
    # copied from the fund and the (locked) time entry at creation rather than related: thousands of
    # draw-downs are created at once by the approval job
    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    partner_id = fields.Many2one("res.partner", required=True, index=True, readonly=True)
    timesheet_id = fields.Many2one("account.analytic.line", required=True, index=True, ondelete="restrict")
    so_line_id = fields.Many2one("sale.order.line", index="btree_not_null", readonly=True)
    date = fields.Date(required=True)
    quantity = fields.Float(required=True, help="Hours or amount drawn.")
    overage_quantity = fields.Float(string="Overage", help="The part beyond the fund's balance, billed at the rate.")
    covered_hours = fields.Float(
        help="Hours of the time entry paid by the fund: they are not delivered again on the order line."
    )

    _sql_constraints = [
        ("timesheet_unique", "UNIQUE(timesheet_id)", "A time entry is drawn from a prepaid fund only once."),
    ]

    # the columns _psa_insert writes, in the order of psa.prepaid.fund._prepare_drawdown_vals
    _PSA_INSERT_COLUMNS = (
        "fund_id",
        "company_id",
        "partner_id",
        "timesheet_id",
        "so_line_id",
        "date",
        "quantity",
        "overage_quantity",
        "covered_hours",
    )

    @api.model
    def _psa_insert(self, vals_list):
        """Create draw-downs in one statement; a time entry already drawn is skipped, never drawn twice.

        The approval job draws tens of thousands of entries at once: the ORM's create took most of its
        time. The dependents (delivered quantity of the order lines) are notified as create would.
        """
        if not vals_list:
            return self.browse()
        columns = [[vals.get(name) or None for vals in vals_list] for name in self._PSA_INSERT_COLUMNS]
        rows = self.env.execute_query(
            SQL(
                """
                INSERT INTO psa_prepaid_drawdown (fund_id, company_id, partner_id, timesheet_id, so_line_id, date,
                                                  quantity, overage_quantity, covered_hours,
                                                  create_uid, create_date, write_uid, write_date)
                SELECT *, %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM unnest(%(fund)s::int[], %(company)s::int[], %(partner)s::int[], %(timesheet)s::int[],
                              %(so_line)s::int[], %(date)s::date[], %(quantity)s::float8[], %(overage)s::float8[],
                              %(covered)s::float8[])
                    ON CONFLICT (timesheet_id) DO NOTHING
             RETURNING id
                """,
                uid=self.env.uid,
                now=fields.Datetime.now(),
                fund=columns[0],
                company=columns[1],
                partner=columns[2],
                timesheet=columns[3],
                so_line=columns[4],
                date=columns[5],
                quantity=[value or 0.0 for value in columns[6]],
                overage=[value or 0.0 for value in columns[7]],
                covered=[value or 0.0 for value in columns[8]],
            )
        )
        drawdowns = self.browse([row[0] for row in rows])
        # what create() keeps up to date: the inverse one2many in cache, then the stored dependents
        self.env["account.analytic.line"].browse(columns[3]).invalidate_recordset(["psa_drawdown_ids"])
        self.env["psa.prepaid.fund"].browse(set(columns[0])).invalidate_recordset(["drawdown_ids"])
        self.env["sale.order.line"].browse({sol for sol in columns[4] if sol}).invalidate_recordset(
            ["psa_drawdown_ids"]
        )
        drawdowns.modified(self._PSA_INSERT_COLUMNS, create=True)
        return drawdowns
