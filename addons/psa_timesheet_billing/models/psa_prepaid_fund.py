import threading
from datetime import timedelta

from odoo import Command, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.osv import expression
from odoo.tools import SQL, format_amount, formatLang

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
    topup_enabled = fields.Boolean(
        string="Raise Top-up Quotation",
        default=lambda self: self.env.company.psa_prepaid_topup,
        tracking=True,
        help="When the balance falls to the low-balance threshold, a draft top-up quotation is raised for the "
        "customer (one at a time); confirming it adds the bought quantity to the fund.",
    )
    topup_quantity = fields.Float(
        string="Top-up Quantity", help="Hours or amount offered on the top-up quotation; 0: the prepaid quantity."
    )
    topup_product_id = fields.Many2one(
        "product.product",
        string="Top-up Product",
        check_company=True,
        domain="[('type', '=', 'service')]",
        help="Sold on the top-up quotation; empty: the product of the order line that opened the fund.",
    )
    # salespeople only: every internal user reads funds, not every one reads orders
    topup_order_ids = fields.One2many(
        "sale.order", "psa_topup_fund_id", string="Top-up Quotations", groups="sales_team.group_sale_salesman"
    )
    topup_order_count = fields.Integer(compute="_compute_topup_order_count", groups="sales_team.group_sale_salesman")

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

    @api.constrains("topup_enabled", "topup_product_id", "sale_line_id")
    def _check_topup_product(self):
        for fund in self:
            if fund.topup_enabled and not fund._psa_topup_product():
                raise ValidationError(
                    self.env._(
                        "Fund %(fund)s raises top-up quotations: choose the top-up product.", fund=fund.display_name
                    )
                )

    @api.depends("drawdown_ids.quantity", "drawdown_ids.overage_quantity", "initial_quantity")
    def _compute_balance(self):
        sums = {
            fund: (quantity, overage)
            for fund, quantity, overage in self.env["psa.prepaid.drawdown"]._read_group(
                [("fund_id", "in", self.ids)], ["fund_id"], ["quantity:sum", "overage_quantity:sum"]
            )
        }
        for fund in self:
            consumed, overage = sums.get(fund._origin, (0.0, 0.0))
            # the overage was billed at the rate: a later top-up does not pay for it again
            covered = consumed - overage
            fund.consumed_quantity = consumed
            fund.remaining_quantity = max(fund.initial_quantity - covered, 0.0)
            fund.overage_quantity = overage

    def _compute_topup_order_count(self):
        counts = dict(
            self.env["sale.order"]._read_group(
                [("psa_topup_fund_id", "in", self.ids)], ["psa_topup_fund_id"], ["__count"]
            )
        )
        for fund in self:
            fund.topup_order_count = counts.get(fund, 0)

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
            self.env.cr.execute(
                "SELECT id FROM psa_prepaid_fund WHERE id = %s FOR UPDATE SKIP LOCKED", (fund.id,), log_exceptions=False
            )
            if not self.env.cr.fetchone():
                continue
            fund._psa_lock()
            timesheets = (
                self.env["account.analytic.line"]
                .sudo()
                .search(self._get_drawable_timesheet_domain(fund), order="date, id", limit=batch_size)
            )
            fund._psa_draw(timesheets)
            # a fund already low without new time (threshold raised, quotation cancelled then topped up)
            fund._psa_raise_topup_quotations()
            self.env["ir.cron"]._notify_progress(done=done, remaining=len(funds) - done)
            if not getattr(threading.current_thread(), "testing", False):
                self.env.cr.commit()  # pylint: disable=invalid-commit

    @api.model
    def _psa_remaining_display(self):
        """What is left on these funds as a person reads it, with its unit: "40.00 h", "$ 1,200.00",
        or both when hours and amounts are prepaid ("40.00 h + $ 1,200.00"); False without any fund."""
        parts = []
        hours = self.filtered(lambda f: f.unit == "hours")
        if hours:
            parts.append(self.env._("%(hours)s h", hours=formatLang(self.env, sum(hours.mapped("remaining_quantity")))))
        for currency in self.filtered(lambda f: f.unit == "amount").currency_id:
            amounts = self.filtered(lambda f, c=currency: f.unit == "amount" and f.currency_id == c)
            parts.append(format_amount(self.env, sum(amounts.mapped("remaining_quantity")), currency))
        return " + ".join(parts) or False

    def _psa_draw_for_timesheets(self, timesheets):
        """Draw just-approved ``timesheets`` from their customers' open funds, oldest fund first.

        One query finds the customers' open funds; each fund then draws the lines its
        ``_get_drawable_timesheet_domain`` accepts, the hook the cron uses too, so an extension of it
        rules both paths (one search per fund: the approval job calls this for thousands of lines).
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
            candidates = [row[0] for row in rows if row[0] not in drawn and row[4] == fund.partner_id.id]
            if not candidates:
                continue
            # wait for a draw-down run on the same fund rather than drawing beside it
            fund._psa_lock()
            lines = (
                self.env["account.analytic.line"]
                .sudo()
                .search(
                    expression.AND([self._get_drawable_timesheet_domain(fund), [("id", "in", candidates)]]),
                    order="date, id",
                )
            )
            fund._psa_draw(lines)
            drawn.update(lines.ids)

    def _psa_draw(self, timesheets):
        self.ensure_one()
        if not timesheets:
            return self.env["psa.prepaid.drawdown"]
        # the caller wrote the fund's row (_psa_lock): no other draw on it committed since this
        # transaction's snapshot. Time already drawn (earlier in this transaction, or by another fund)
        # is left out, else it would shrink the balance the other entries see.
        self.invalidate_recordset(["consumed_quantity", "remaining_quantity", "overage_quantity", "drawdown_ids"])
        timesheets.invalidate_recordset(["psa_drawdown_ids"])
        timesheets -= (
            self.env["psa.prepaid.drawdown"].sudo().search([("timesheet_id", "in", timesheets.ids)]).timesheet_id
        )
        if not timesheets:
            return self.env["psa.prepaid.drawdown"]
        remaining = self.remaining_quantity
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
        # with top-ups on, the account manager's activity is on the quotation
        self._psa_raise_topup_quotations()
        if self.remaining_quantity <= self.low_balance_threshold and not self.topup_enabled and not self.activity_ids:
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
    # Top-up quotations
    # ------------------------------------------------------------------------------------------
    def _psa_topup_product(self):
        self.ensure_one()
        return self.topup_product_id or self.sale_line_id.product_id

    def _psa_lock(self):
        """Lock the funds' rows by writing them, waiting for a draw-down, top-up or settlement in progress.

        Odoo's transactions are REPEATABLE READ: after waiting for a plain ``SELECT ... FOR UPDATE`` a
        transaction would go on with a snapshot that misses what the other one drew, and spend the same
        balance twice. A row written by the other transaction makes the waiting one fail with a
        serialization error instead: Odoo retries a request, the next run of a job picks the fund up again,
        both with fresh data. (Not logged as a bad query: it is the expected outcome of a race.)
        """
        if self.ids:
            self.env.cr.execute(
                "UPDATE psa_prepaid_fund SET write_date = write_date WHERE id = ANY(%s)",
                (self.ids,),
                log_exceptions=False,
            )
        self.invalidate_recordset()

    @api.model
    def _get_topup_blocking_domain(self, funds):
        """Hook for extensions: top-up orders that keep ``funds`` from raising another one.

        An open quotation (one at a time) and a cancelled one (the customer declined: a person decides
        whether to offer again; the next confirmed top-up lifts it).
        """
        return [("psa_topup_fund_id", "in", funds.ids), ("state", "in", ("draft", "sent", "cancel"))]

    def _psa_funds_needing_topup(self, manual=False):
        """The funds that should raise a top-up quotation now (read after their row lock)."""
        candidates = self.filtered(
            lambda fund: fund.topup_enabled
            and fund.state in ("open", "exhausted")
            and (manual or fund.remaining_quantity <= fund.low_balance_threshold)
        )
        if not candidates:
            return candidates
        latest = {}
        for order in (
            self.env["sale.order"].sudo().search([("psa_topup_fund_id", "in", candidates.ids)], order="id desc")
        ):
            latest.setdefault(order.psa_topup_fund_id, order)
        blocking = self.env["sale.order"].sudo().search(self._get_topup_blocking_domain(candidates))
        # only the latest top-up counts for a cancellation: a confirmed one after it lifts the block
        blocked = {
            order.psa_topup_fund_id
            for order in blocking
            if order.state in ("draft", "sent") or (not manual and latest.get(order.psa_topup_fund_id) == order)
        }
        return candidates.filtered(lambda fund: fund not in blocked)

    def _prepare_topup_order_vals(self):
        """Hook for extensions: the draft quotation that tops the fund up, at the fund's product and rate."""
        self.ensure_one()
        product = self._psa_topup_product()
        quantity = self.topup_quantity or self.initial_quantity
        line_vals = {"product_id": product.id, "psa_topup_fund_id": self.id}
        if self.unit == "amount":
            line_vals.update(product_uom_qty=1.0, price_unit=quantity)
        else:
            line_vals["product_uom_qty"] = quantity
            if self.sale_line_id.product_id == product:
                line_vals["price_unit"] = self.sale_line_id.price_unit
        return {
            "partner_id": self.partner_id.id,
            "company_id": self.company_id.id,
            "user_id": self.user_id.id,
            "origin": self.name,
            "psa_topup_fund_id": self.id,
            "order_line": [Command.create(line_vals)],
        }

    def _psa_topup_reason(self):
        self.ensure_one()
        return self.env._(
            "top-up quotation raised automatically: %(remaining)s %(unit)s left on %(fund)s, "
            "at or below the low-balance threshold of %(threshold)s",
            remaining=round(self.remaining_quantity, 2),
            unit=dict(self._fields["unit"]._description_selection(self.env))[self.unit].lower(),
            fund=self.name,
            threshold=self.low_balance_threshold,
        )

    def _psa_raise_topup_quotations(self, manual=False):
        """Raise one draft top-up quotation per fund that needs one; never a second while one is open.

        Idempotent: the fund's row is locked and its top-up orders read again before anything is created.
        Returns the quotations raised.
        """
        funds = self.sudo().filtered("topup_enabled")
        if not funds:
            return self.env["sale.order"]
        funds._psa_lock()
        funds = funds._psa_funds_needing_topup(manual=manual)
        if not funds:
            return self.env["sale.order"]
        reasons = {
            fund: (
                self.env._("top-up quotation raised by %(user)s", user=self.env.user.name)
                if manual
                else fund._psa_topup_reason()
            )
            for fund in funds
        }
        orders = self.env["sale.order"].sudo().create([fund._prepare_topup_order_vals() for fund in funds])
        for fund, order in zip(funds, orders, strict=True):
            order.message_post(body=reasons[fund], subtype_xmlid="mail.mt_note")
            order.activity_schedule(
                "mail.mail_activity_data_todo",
                user_id=fund.user_id.id or self.env.user.id,
                summary=self.env._("Send the top-up quotation"),
                note=reasons[fund],
            )
            fund.message_post(
                body=self.env._("%(reason)s: %(order)s", reason=reasons[fund], order=order.name),
                subtype_xmlid="mail.mt_note",
            )
        return orders

    def action_psa_raise_topup(self):
        """Raise a top-up quotation now (also after a declined one); not while one is open."""
        if not self.env.user.has_group("sales_team.group_sale_salesman"):
            raise UserError(self.env._("Only salespeople can raise a top-up quotation."))
        if not all(self.mapped("topup_enabled")):
            raise UserError(self.env._("Enable Raise Top-up Quotation on the fund first."))
        orders = self._psa_raise_topup_quotations(manual=True)
        if not orders:
            raise UserError(self.env._("A top-up quotation is already open for this fund, or the fund is settled."))
        return self.action_psa_view_topup_orders()

    def action_psa_view_topup_orders(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("sale.action_quotations_with_onboarding")
        action.update(domain=[("psa_topup_fund_id", "=", self.id)], context={"create": False})
        return action

    def _psa_topup_target(self):
        """The fund a confirmed top-up goes to: this one, or the one its balance was carried over to."""
        self.ensure_one()
        fund = self
        while fund.state == "settled":
            successor = self.search([("carried_from_id", "=", fund.id)], limit=1)
            if not successor:
                return self.browse()
            fund = successor
        return fund

    def _prepare_topup_fund_vals(self, quantity, order_line):
        """Hook for extensions: the new fund a top-up opens when its fund expired meanwhile."""
        self.ensure_one()
        today = fields.Date.context_today(self)
        return {
            "name": self.env._("%(fund)s (top-up %(order)s)", fund=self.name, order=order_line.order_id.name),
            "company_id": self.company_id.id,
            "partner_id": self.partner_id.id,
            "project_id": self.project_id.id,
            "user_id": self.user_id.id,
            "unit": self.unit,
            "hourly_rate": self.hourly_rate,
            "initial_quantity": quantity,
            "date_start": today,
            "date_end": today + (self.date_end - self.date_start) if self.date_end else False,
            "sale_line_id": order_line.id,
            "low_balance_threshold": self.low_balance_threshold,
            "settlement_policy": self.settlement_policy,
            "topup_enabled": self.topup_enabled,
            "topup_quantity": self.topup_quantity,
            "topup_product_id": self._psa_topup_product().id,
        }

    def _psa_receive_topup(self, quantity, order_line):
        """Add a confirmed top-up to the fund (or its carried-over successor, or a new fund)."""
        self.ensure_one()
        if quantity <= 0:
            return self.browse()
        self._psa_lock()
        fund = self._psa_topup_target()
        if not fund:
            fund = self.create(self._prepare_topup_fund_vals(quantity, order_line))
            note = self.env._(
                "%(order)s confirmed: %(fund)s had expired, so the top-up of %(quantity)s opened %(new)s",
                order=order_line.order_id.name,
                fund=self.name,
                quantity=round(quantity, 2),
                new=fund.name,
            )
            self.message_post(body=note, subtype_xmlid="mail.mt_note")
        else:
            fund._psa_lock()
            fund.write({"initial_quantity": fund.initial_quantity + quantity})
            if fund.state == "exhausted" and fund.remaining_quantity > 0:
                fund.write({"state": "open"})
            note = self.env._(
                "topped up by %(quantity)s with %(order)s: %(remaining)s now left",
                quantity=round(quantity, 2),
                order=order_line.order_id.name,
                remaining=round(fund.remaining_quantity, 2),
            )
            fund.message_post(body=note, subtype_xmlid="mail.mt_note")
            if fund.remaining_quantity > fund.low_balance_threshold:
                fund.activity_feedback(["mail.mail_activity_data_todo"], feedback=note)
        order_line.order_id.message_post(body=note, subtype_xmlid="mail.mt_note")
        return fund

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
            "topup_enabled": self.topup_enabled,
            "topup_quantity": self.topup_quantity,
            "topup_product_id": self._psa_topup_product().id,
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
