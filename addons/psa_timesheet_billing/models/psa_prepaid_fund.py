import threading
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

FUND_STATES = [("open", "Open"), ("exhausted", "Exhausted"), ("settled", "Settled")]


class PsaPrepaidFund(models.Model):
    _name = "psa.prepaid.fund"
    _description = "Prepaid Fund"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "date_start desc, id desc"
    _check_company_auto = True

    name = fields.Char(required=True, tracking=True)
    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)
    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        index=True,
        check_company=True,
        domain="[('is_company', '=', True)]",
        tracking=True,
    )
    project_id = fields.Many2one(
        "project.project", check_company=True, help="Only time on this project draws on the fund; empty: any project."
    )
    sale_line_id = fields.Many2one("sale.order.line", string="Sold On", check_company=True, copy=False)
    user_id = fields.Many2one(
        "res.users", string="Account Manager", default=lambda self: self.env.user, help="Gets the low-balance activity."
    )
    unit = fields.Selection([("hours", "Hours"), ("amount", "Amount")], required=True, default="hours")
    currency_id = fields.Many2one(related="company_id.currency_id")
    initial_quantity = fields.Float(string="Prepaid", required=True, tracking=True, help="Hours or amount bought.")
    hourly_rate = fields.Monetary(
        help="For an amount fund: the price of one hour drawn down (agreed rate, also for the overage)."
    )
    date_start = fields.Date(required=True, default=fields.Date.context_today)
    date_end = fields.Date(string="Period End", help="Settled the day after; empty: settled when exhausted.")
    settlement_policy = fields.Selection(
        [("carry_over", "Carry the balance over to a new period"), ("expire", "The balance expires")],
        required=True,
        default="expire",
    )
    low_balance_threshold = fields.Float(help="When the balance falls to this level an activity is scheduled.")
    state = fields.Selection(FUND_STATES, default="open", required=True, tracking=True, index=True)
    drawdown_ids = fields.One2many("psa.prepaid.drawdown", "fund_id", string="Draw-downs")
    consumed_quantity = fields.Float(string="Consumed", compute="_compute_balance")
    remaining_quantity = fields.Float(string="Remaining", compute="_compute_balance")
    overage_quantity = fields.Float(
        string="Overage", compute="_compute_balance", help="Consumed beyond the prepaid quantity: billed at the rate."
    )
    settlement_note = fields.Char(readonly=True, copy=False)
    carried_from_id = fields.Many2one("psa.prepaid.fund", string="Carried Over From", readonly=True, copy=False)

    _sql_constraints = [
        ("initial_quantity_positive", "CHECK(initial_quantity > 0)", "A prepaid fund holds a positive quantity."),
        ("sale_line_unique", "UNIQUE(sale_line_id)", "An order line opens one prepaid fund only."),
    ]

    @api.constrains("date_start", "date_end")
    def _check_period(self):
        for fund in self:
            if fund.date_end and fund.date_end < fund.date_start:
                raise ValidationError(
                    self.env._("Fund %(fund)s: the period ends before it starts.", fund=fund.display_name)
                )

    @api.depends("drawdown_ids.quantity", "initial_quantity")
    def _compute_balance(self):
        sums = dict(
            self.env["psa.prepaid.drawdown"]._read_group([("fund_id", "in", self.ids)], ["fund_id"], ["quantity:sum"])
        )
        for fund in self:
            consumed = sums.get(fund._origin, 0.0)
            fund.consumed_quantity = consumed
            fund.remaining_quantity = max(fund.initial_quantity - consumed, 0.0)
            fund.overage_quantity = max(consumed - fund.initial_quantity, 0.0)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_drawn(self):
        if self.drawdown_ids:
            raise UserError(self.env._("A fund time was drawn from cannot be deleted: archive or settle it."))

    # ------------------------------------------------------------------------------------------
    # Draw-down
    # ------------------------------------------------------------------------------------------
    @api.model
    def _get_drawable_timesheet_domain(self, fund):
        """Hook for extensions: the released time entries ``fund`` pays for."""
        domain = [
            ("company_id", "=", fund.company_id.id),
            ("project_id", "!=", False),
            # invoiced time was paid otherwise: only approved time not billed yet draws on a fund
            ("psa_approval_state", "=", "approved"),
            ("psa_drawdown_ids", "=", False),
            ("date", ">=", fund.date_start),
            ("project_id.partner_id", "child_of", fund.partner_id.id),
        ]
        if fund.date_end:
            domain.append(("date", "<=", fund.date_end))
        if fund.project_id:
            domain.append(("project_id", "=", fund.project_id.id))
        return domain

    def _prepare_drawdown_vals(self, timesheet, remaining):
        """Hook for extensions: the draw-down of one time entry, given what is left on the fund."""
        self.ensure_one()
        quantity = timesheet.unit_amount if self.unit == "hours" else timesheet.unit_amount * self.hourly_rate
        overage = max(quantity - max(remaining, 0.0), 0.0)
        covered_share = (quantity - overage) / quantity if quantity else 0.0
        return {
            "covered_hours": timesheet.unit_amount * covered_share,
            "fund_id": self.id,
            "company_id": self.company_id.id,
            "partner_id": self.partner_id.id,
            "timesheet_id": timesheet.id,
            "so_line_id": timesheet.so_line.id,
            "quantity": quantity,
            "overage_quantity": overage,
            "date": timesheet.date,
        }

    @api.model
    def _cron_draw_down(self, batch_size=1000):
        """Draw the released time of each customer from their open funds, oldest fund first."""
        funds = self.sudo().search([("state", "=", "open")], order="date_start, id")
        for done, fund in enumerate(funds, start=1):
            # one run per fund at a time; the unique timesheet on draw-downs guards the rest
            self.env.cr.execute("SELECT id FROM psa_prepaid_fund WHERE id = %s FOR UPDATE SKIP LOCKED", (fund.id,))
            if not self.env.cr.fetchone():
                continue
            timesheets = (
                self.env["account.analytic.line"]
                .sudo()
                .search(self._get_drawable_timesheet_domain(fund), order="date, id", limit=batch_size)
            )
            fund._psa_draw(timesheets)
            self.env["ir.cron"]._notify_progress(done=done, remaining=len(funds) - done)
            if not getattr(threading.current_thread(), "testing", False):
                self.env.cr.commit()  # pylint: disable=invalid-commit

    @api.model
    def _psa_draw_for_timesheets(self, timesheets):
        """Draw just-approved ``timesheets`` from their customers' open funds, oldest fund first.

        One query reads what decides which fund pays for which line (the same conditions as
        ``_get_drawable_timesheet_domain``): the approval job calls this for thousands of lines at once.
        """
        if not timesheets or not self.search_count([("state", "=", "open")], limit=1):
            return
        timesheets.flush_recordset()
        rows = self.env.execute_query(
            SQL(
                """
                SELECT line.id, line.date, line.company_id, line.project_id, partner.commercial_partner_id
                  FROM account_analytic_line line
                  JOIN project_project project ON project.id = line.project_id
                  JOIN res_partner partner ON partner.id = project.partner_id
                 WHERE line.id = ANY(%s) AND line.psa_approval_state = 'approved'
                   AND NOT EXISTS (SELECT 1 FROM psa_prepaid_drawdown drawn WHERE drawn.timesheet_id = line.id)
                 ORDER BY line.date, line.id
                """,
                timesheets.ids,
            )
        )
        if not rows:
            return
        funds = self.search(
            [("state", "=", "open"), ("partner_id", "in", list({row[4] for row in rows}))], order="date_start, id"
        )
        drawn = set()
        for fund in funds:
            # wait for a draw-down run on the same fund rather than drawing beside it
            self.env.cr.execute("SELECT id FROM psa_prepaid_fund WHERE id = %s FOR UPDATE", (fund.id,))
            line_ids = [
                line_id
                for line_id, day, company_id, project_id, partner_id in rows
                if line_id not in drawn
                and partner_id == fund.partner_id.id
                and company_id == fund.company_id.id
                and day >= fund.date_start
                and (not fund.date_end or day <= fund.date_end)
                and (not fund.project_id or project_id == fund.project_id.id)
            ]
            fund._psa_draw(self.env["account.analytic.line"].sudo().browse(line_ids))
            drawn.update(line_ids)

    def _psa_draw(self, timesheets):
        self.ensure_one()
        if not timesheets:
            return self.env["psa.prepaid.drawdown"]
        remaining = self.initial_quantity - self.consumed_quantity
        vals_list = []
        for timesheet in timesheets:
            vals = self._prepare_drawdown_vals(timesheet, remaining)
            remaining -= vals["quantity"]
            vals_list.append(vals)
        drawdowns = self.env["psa.prepaid.drawdown"]._psa_insert(vals_list)
        self.invalidate_recordset(["consumed_quantity", "remaining_quantity", "overage_quantity"])
        self._psa_after_draw(drawdowns)
        return drawdowns

    def _psa_after_draw(self, drawdowns):
        """Flag the overage, warn on a low balance, close an exhausted fund."""
        self.ensure_one()
        overage = sum(drawdowns.mapped("overage_quantity"))
        if overage:
            self.message_post(
                body=self.env._(
                    "%(overage)s %(unit)s used beyond the prepaid balance: billed at the agreed rate.",
                    overage=round(overage, 2),
                    unit=dict(self._fields["unit"]._description_selection(self.env))[self.unit].lower(),
                ),
                subtype_xmlid="mail.mt_note",
            )
        if self.remaining_quantity <= self.low_balance_threshold and not self.activity_ids:
            self.activity_schedule(
                "mail.mail_activity_data_todo",
                user_id=self.user_id.id or self.env.user.id,
                summary=self.env._("Low prepaid balance: offer a top-up"),
                note=self.env._(
                    "%(remaining)s left on %(fund)s (threshold %(threshold)s).",
                    remaining=round(self.remaining_quantity, 2),
                    fund=self.display_name,
                    threshold=self.low_balance_threshold,
                ),
            )
        if self.remaining_quantity <= 0 and self.state == "open":
            self.write({"state": "exhausted"})
            self.message_post(body=self.env._("Fund exhausted: further time is billed as overage."))

    # ------------------------------------------------------------------------------------------
    # Settlement
    # ------------------------------------------------------------------------------------------
    @api.model
    def _cron_settle_funds(self, batch_size=200):
        """Settle the funds whose period ended: carry the balance over or let it expire."""
        today = fields.Date.context_today(self)
        funds = self.sudo().search(
            [("state", "in", ("open", "exhausted")), ("date_end", "!=", False), ("date_end", "<", today)],
            limit=batch_size,
        )
        funds._psa_settle()
        return funds

    def _prepare_carry_over_vals(self):
        """Hook for extensions: the fund that receives the unused balance, for a period as long."""
        self.ensure_one()
        length = self.date_end - self.date_start
        start = self.date_end + timedelta(days=1)
        return {
            "name": self.env._("%(fund)s (carried over)", fund=self.name),
            "company_id": self.company_id.id,
            "partner_id": self.partner_id.id,
            "project_id": self.project_id.id,
            "user_id": self.user_id.id,
            "unit": self.unit,
            "hourly_rate": self.hourly_rate,
            "initial_quantity": self.remaining_quantity,
            "date_start": start,
            "date_end": start + length,
            "settlement_policy": self.settlement_policy,
            "low_balance_threshold": self.low_balance_threshold,
            "carried_from_id": self.id,
        }

    def action_psa_settle(self):
        """Settle now (period end or exhaustion), as the cron does."""
        if not self.env.user.has_group("account.group_account_invoice"):
            raise UserError(self.env._("Only invoicing users can settle a prepaid fund."))
        return self.filtered(lambda fund: fund.state != "settled")._psa_settle()

    def _psa_settle(self):
        for fund in self.filtered(lambda f: f.state != "settled"):
            remaining = fund.remaining_quantity
            if remaining > 0 and fund.settlement_policy == "carry_over":
                new_fund = self.create(fund._prepare_carry_over_vals())
                note = self.env._(
                    "settled: %(remaining)s carried over to %(fund)s", remaining=round(remaining, 2), fund=new_fund.name
                )
            elif remaining > 0:
                note = self.env._("settled: %(remaining)s unused, expired", remaining=round(remaining, 2))
            else:
                note = self.env._("settled: fully used")
            fund.write({"state": "settled", "settlement_note": note})
            fund.message_post(body=note)
        return True


class PsaPrepaidDrawdown(models.Model):
    _name = "psa.prepaid.drawdown"
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
