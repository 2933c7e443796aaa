from collections import defaultdict
from datetime import datetime, time

from odoo import api, fields, models
from odoo.osv import expression
from odoo.tools import SQL, float_compare, format_amount

from ..tools.billable import BillableItem
from ..tools.billing_keys import exactly_once_key, invoice_group_key, quantity_watermark


class SaleOrderLine(models.Model):
    """Order lines are a billing source: service lines, milestones and re-invoiced expenses billed on
    their quantity to invoice, and the down payments deducted on the order's invoice. (Time billed
    on its order line is the time entries' source, ``account.analytic.line``.)"""

    _name = "sale.order.line"
    _inherit = ["sale.order.line", "psa.billable.mixin"]
    _psa_billing_sequence = 20

    psa_drawdown_ids = fields.One2many("psa.prepaid.drawdown", "so_line_id", string="Prepaid Draw-downs")
    psa_topup_fund_id = fields.Many2one("psa.prepaid.fund", string="Tops Up Fund", index="btree_not_null", copy=False)
    psa_topup_applied = fields.Boolean(
        string="Top-up Applied", readonly=True, copy=False, help="The bought quantity was added to the fund."
    )

    @api.depends("analytic_line_ids.psa_approval_state", "psa_drawdown_ids.covered_hours")
    def _compute_qty_delivered(self):
        # delivered time changes when an entry is approved, rejected or reset, or paid by a prepaid fund
        res = super()._compute_qty_delivered()
        by_timesheet = self.filtered(lambda sol: sol.qty_delivered_method == "timesheet" and sol.id)
        if not by_timesheet:
            return res
        covered = dict(
            self.env["psa.prepaid.drawdown"]
            .sudo()
            ._read_group([("so_line_id", "in", by_timesheet.ids)], ["so_line_id"], ["covered_hours:sum"])
        )
        uom_hour = self.env.ref("uom.product_uom_hour")
        for line in by_timesheet:
            hours = covered.get(line, 0.0)
            if hours and line.product_uom.category_id == uom_hour.category_id:
                hours = uom_hour._compute_quantity(hours, line.product_uom)
            line.qty_delivered = max(line.qty_delivered - hours, 0.0)
        return res

    def _timesheet_compute_delivered_quantity_domain(self):
        """Only released (approved or invoiced) time is delivered, so only that time is invoiced."""
        domain = super()._timesheet_compute_delivered_quantity_domain()
        released = self.env["account.analytic.line"]._psa_released_states()
        return expression.AND([domain, [("psa_approval_state", "in", released)]])

    def _prepare_prepaid_fund_vals(self):
        """Hook for extensions: the prepaid fund a confirmed order line opens."""
        self.ensure_one()
        uom_hour = self.env.ref("uom.product_uom_hour")
        unit = self.product_id.psa_prepaid_fund_unit
        if unit == "hours" and self.product_uom.category_id == uom_hour.category_id:
            initial = self.product_uom._compute_quantity(self.product_uom_qty, uom_hour)
        elif unit == "hours":
            initial = self.product_uom_qty
        else:
            initial = self.price_subtotal
        # an amount is drawn at the order's hourly rate, when it sells time too
        timesheet_lines = self.order_id.order_line.filtered(lambda sol: sol.product_id.service_type == "timesheet")
        return {
            "name": self.env._("%(product)s (%(order)s)", product=self.product_id.name, order=self.order_id.name),
            "company_id": self.company_id.id,
            "partner_id": self.order_id.partner_id.commercial_partner_id.id,
            "project_id": self.order_id.project_id.id,
            "sale_line_id": self.id,
            "user_id": self.order_id.user_id.id,
            "unit": unit,
            "initial_quantity": initial,
            "hourly_rate": timesheet_lines[:1].price_unit,
        }

    def _psa_create_prepaid_funds(self):
        """Open one fund per confirmed prepaid-fund line; a line never opens two (a top-up line adds
        to its fund instead of opening a second one)."""
        lines = self.filtered(
            lambda sol: sol.product_id.psa_prepaid_fund_unit and sol.state == "sale" and not sol.psa_topup_fund_id
        )
        existing = self.env["psa.prepaid.fund"].sudo().search([("sale_line_id", "in", lines.ids)]).sale_line_id
        todo = (lines - existing).filtered(lambda sol: sol.product_uom_qty > 0)
        return self.env["psa.prepaid.fund"].sudo().create([sol._prepare_prepaid_fund_vals() for sol in todo])

    def _psa_topup_quantity(self, unit):
        """Hook for extensions: the hours or amount this confirmed top-up line adds to a fund."""
        self.ensure_one()
        if unit == "amount":
            return self.price_subtotal
        uom_hour = self.env.ref("uom.product_uom_hour")
        if self.product_uom.category_id == uom_hour.category_id:
            return self.product_uom._compute_quantity(self.product_uom_qty, uom_hour)
        return self.product_uom_qty

    @api.model
    def _psa_claim_topups(self, lines):
        """Mark ``lines`` applied in one statement and return those this transaction won.

        Two confirmations at once (a double click, a retried RPC call) do not both reach this point: the
        order's row is locked first (``psa_orders`` ``action_confirm``) and the second is run again after the
        first committed, then refused as already confirmed. This claim is the second guard: a line already
        applied is never applied again, whoever confirms.
        """
        if not lines:
            return lines
        rows = self.env.execute_query(
            SQL(
                "UPDATE sale_order_line SET psa_topup_applied = TRUE"
                " WHERE id = ANY(%s) AND psa_topup_applied IS NOT TRUE RETURNING id",
                lines.ids,
            )
        )
        lines.invalidate_recordset(["psa_topup_applied"])
        return self.browse([row[0] for row in rows])

    def _psa_apply_topups(self):
        """Add the quantity of the confirmed top-up lines to their funds, exactly once."""
        lines = self.filtered(lambda sol: sol.psa_topup_fund_id and sol.state == "sale" and not sol.psa_topup_applied)
        for line in self._psa_claim_topups(lines).sudo():
            fund = line.psa_topup_fund_id
            fund._psa_receive_topup(line._psa_topup_quantity(fund.unit), line)
        return lines

    # ------------------------------------------------------------------------------------------
    # Billing source (psa.billable.mixin)
    # ------------------------------------------------------------------------------------------
    @api.model
    def _psa_get_billable_domain(self, run):
        """Order lines billed on their quantity to invoice (not on time) up to the run's period end."""
        return [
            ("order_id.state", "=", "sale"),
            ("company_id", "in", run.company_ids.ids),
            ("display_type", "=", False),
            ("is_downpayment", "=", False),
            ("qty_to_invoice", ">", 0),
            ("order_id.date_order", "<=", datetime.combine(run.period_end, time.max)),
            "|",
            ("qty_delivered_method", "!=", "timesheet"),
            ("product_id.invoice_policy", "=", "order"),
            *run._psa_customer_domain("order_id.partner_id.commercial_partner_id"),
        ]

    @api.model
    def _psa_collect_billable(self, run, run_lines=None):
        domain = self._psa_get_billable_domain(run)
        if run_lines is not None:
            if not run_lines.sale_line_id:
                return []
            domain = [*domain, ("id", "in", run_lines.sale_line_id.ids)]
        # the run's clerk may invoice orders: searched with their rights
        return self.search(domain, order="order_id, sequence, id")._psa_prepare_billable_items(run)

    def _psa_prepare_billable_items(self, run):
        milestones = defaultdict(list)
        if "project.milestone" in self.env and self:
            for milestone in (
                self.env["project.milestone"]
                .sudo()
                .search([("sale_line_id", "in", self.ids), ("is_reached", "=", True)], order="reached_date, id")
            ):
                milestones[milestone.sale_line_id.id].append(milestone)
        policies = dict(self.env["product.template"]._fields["invoice_policy"]._description_selection(self.env))
        expenses, receipts = self.filtered("is_expense")._psa_expenses_by_sale_line()
        items = []
        for sale_line in self:
            is_milestone = sale_line.qty_delivered_method == "milestones"
            source_type = "milestone" if is_milestone else ("expense" if sale_line.is_expense else "service")
            quantity = sale_line.qty_to_invoice
            if is_milestone:
                reached, later = sale_line._psa_split_milestones_at_period_end(run, milestones[sale_line.id])
                milestones[sale_line.id] = reached
                quantity = sale_line._psa_milestone_quantity_due(reached)
                if float_compare(quantity, 0.0, precision_rounding=sale_line.product_uom.rounding) <= 0:
                    if later:
                        items.append(sale_line._psa_milestones_after_period_item(run, later))
                    continue
            item = sale_line._psa_prepare_billable_item(run, quantity, source_type)
            rate = format_amount(self.env, sale_line.price_unit, sale_line.currency_id)
            if source_type == "expense":
                line_expenses = expenses.get(sale_line.id, self.env["hr.expense"].sudo())
                line_receipts = receipts.get(sale_line.id, self.env["ir.attachment"])
                item.explanation = self.env._(
                    "Re-invoiced expense: %(expenses)s; %(qty)s %(uom)s at %(rate)s (order %(order)s); "
                    "%(receipts)s receipt(s) attached.",
                    expenses=", ".join(
                        f"{expense.name} ({expense.employee_id.name}, {expense.date})" for expense in line_expenses
                    )
                    or "-",
                    qty=sale_line.qty_to_invoice,
                    uom=sale_line.product_uom.name,
                    rate=rate,
                    order=sale_line.order_id.name,
                    receipts=len(line_receipts),
                )
                item.receipt_ids = line_receipts.ids
            elif is_milestone:
                item.explanation = self.env._(
                    "Milestones reached: %(milestones)s; %(qty)s %(uom)s at %(rate)s (order %(order)s).",
                    milestones=", ".join(
                        f"{milestone.name} ({milestone.reached_date or ''})" for milestone in milestones[sale_line.id]
                    )
                    or "-",
                    qty=quantity,
                    uom=sale_line.product_uom.name,
                    rate=rate,
                    order=sale_line.order_id.name,
                )
            else:
                item.explanation = self.env._(
                    "Service: %(qty)s %(uom)s to invoice (%(ordered)s ordered, %(delivered)s delivered, "
                    "%(invoiced)s invoiced) at %(rate)s; invoicing policy: %(policy)s (order %(order)s).",
                    qty=sale_line.qty_to_invoice,
                    uom=sale_line.product_uom.name,
                    ordered=sale_line.product_uom_qty,
                    delivered=sale_line.qty_delivered,
                    invoiced=sale_line.qty_invoiced,
                    rate=rate,
                    policy=policies.get(sale_line.product_id.invoice_policy, ""),
                    order=sale_line.order_id.name,
                )
            item.keys = [sale_line._psa_quantity_key()]
            items.append(item)
        return items

    def _psa_project_analytic_distributions(self):
        """The analytic distribution sale_project's ``_prepare_invoice_line`` gives the invoice line of each
        of these order lines when it looks the account up in the projects: ``{line id: {account id: 100}}``.

        sale_project does it with one grouped read per order line (about 1 ms each, the largest share of
        preparing an invoice line); here it is one search for the whole batch. The rule is sale_project's:
        a service line (not a re-invoiced expense) with no distribution of its own and no account on its
        task's project or its project gets the account of the projects it sells or whose tasks it bills
        (active projects, active tasks, the user's record rules), if they have exactly one. The lines it
        does not apply to are left out, and sale_project decides for them as usual.
        """
        lines = self.filtered(
            lambda line: not line.analytic_distribution
            and not line.task_id.project_id.account_id
            and not line.project_id.account_id
            and line.is_service
            and not line.is_expense
        )
        if not lines:
            return {}
        projects = self.env["project.project"].search(
            [
                ("account_id", "!=", False),
                "|",
                ("sale_line_id", "in", lines.ids),
                ("tasks.sale_line_id", "in", lines.ids),
            ]
        )
        accounts = defaultdict(set)
        for project in projects:
            if project.sale_line_id in lines:
                accounts[project.sale_line_id.id].add(project.account_id.id)
        if projects:
            task_groups = self.env["project.task"]._read_group(
                [("project_id", "in", projects.ids), ("sale_line_id", "in", lines.ids)],
                ["sale_line_id", "project_id"],
            )
            for sale_line, project in task_groups:
                accounts[sale_line.id].add(project.account_id.id)
        return {
            line_id: {next(iter(account_ids)): 100}
            for line_id, account_ids in accounts.items()
            if len(account_ids) == 1
        }

    def _psa_quantity_key(self):
        """The exactly-once key of what this order line bills now: its invoiced-quantity watermark."""
        self.ensure_one()
        return exactly_once_key(self._name, self.id, quantity_watermark(self.qty_invoiced))

    def _psa_prepare_billable_item(self, run, quantity, source_type):
        """The ``BillableItem`` of ``quantity`` of this order line on ``run`` (its invoice line is
        prepared from the order line when it is billed: ``invoice_line_vals`` stays ``None``)."""
        self.ensure_one()
        order = self.order_id
        currency = self.currency_id
        return BillableItem(
            source_type=source_type,
            company_id=self.company_id.id,
            partner_id=order.partner_id.commercial_partner_id.id,
            order_id=order.id,
            sale_line_id=self.id,
            name=self.name,
            quantity=quantity,
            price_unit=self.price_unit,
            currency_id=currency.id,
            amount=currency.round(quantity * self.price_unit * (1 - (self.discount or 0.0) / 100.0)),
            group_key=invoice_group_key(
                run.grouping,
                order.company_id.id,
                order.partner_invoice_id.id,
                currency.id,
                order.id,
                order.client_order_ref,
            ),
            order=order,
        )

    def _psa_expenses_by_sale_line(self):
        """The expenses (sale_expense) behind these re-invoiced order lines and their receipt files."""
        # sudo: a billing clerk need not read expense reports; only the name, employee and date of the expenses
        # behind the lines being billed go into their explanation (and the receipts onto the invoice).
        expenses, receipts = defaultdict(lambda: self.env["hr.expense"].sudo()), {}
        if not self:
            return expenses, receipts
        analytic_lines = (
            self.env["account.analytic.line"]
            .sudo()
            .search([("so_line", "in", self.ids), ("move_line_id.expense_id", "!=", False)])
        )
        for analytic_line in analytic_lines:
            expenses[analytic_line.so_line.id] |= analytic_line.move_line_id.expense_id
        all_expenses = self.env["hr.expense"].sudo().union(*expenses.values())
        attachments = (
            self.env["ir.attachment"]
            .sudo()
            .search([("res_model", "=", "hr.expense"), ("res_id", "in", all_expenses.ids)], order="id")
        )
        for sale_line_id, line_expenses in expenses.items():
            receipts[sale_line_id] = attachments.filtered(lambda att, ids=set(line_expenses.ids): att.res_id in ids)
        return expenses, receipts

    # milestones: only those reached by the period end
    def _psa_split_milestones_at_period_end(self, run, milestones):
        """``(reached by the period end, reached after it)`` of reached milestones (lists)."""
        reached = [m for m in milestones if not m.reached_date or m.reached_date <= run.period_end]
        later = [m for m in milestones if m.reached_date and m.reached_date > run.period_end]
        return reached, later

    def _psa_milestone_quantity_due(self, reached):
        """Quantity of a milestone order line billable up to the period end: the share of the
        milestones reached by then, less what is already invoiced (as Odoo computes delivery)."""
        self.ensure_one()
        delivered = sum(milestone.quantity_percentage for milestone in reached) * self.product_uom_qty
        return min(max(delivered - self.qty_invoiced, 0.0), self.qty_to_invoice)

    def _psa_milestones_after_period_item(self, run, later):
        """A skipped item: the milestones were reached after the period end, a later run bills them."""
        self.ensure_one()
        return BillableItem(
            kind="skip",
            state="skipped",
            source_type="milestone",
            company_id=self.company_id.id,
            partner_id=self.order_id.partner_id.commercial_partner_id.id,
            order_id=self.order_id.id,
            sale_line_id=self.id,
            name=self.name,
            currency_id=self.currency_id.id,
            skip_reason=self.env._(
                "milestone(s) %(milestones)s reached after the period end %(date)s: billed by a later run",
                milestones=", ".join(f"{milestone.name} ({milestone.reached_date})" for milestone in later),
                date=run.period_end,
            ),
        )

    # down payments: deducted on the order's invoice of the run
    @api.model
    def _psa_get_downpayments_to_deduct_domain(self, orders):
        """Hook for extensions: invoiced down payments (prepayments) of ``orders`` not deducted yet."""
        return [
            ("order_id", "in", orders.ids),
            ("is_downpayment", "=", True),
            ("display_type", "=", False),
            ("qty_to_invoice", "<", 0),
        ]

    @api.model
    def _psa_complete_billable(self, run, items):
        """Deduct the invoiced down payments of an order on the run's invoice of that order, as
        Odoo's final invoice (``_create_invoices(final=True)``) does, when that invoice covers them;
        otherwise they wait for a larger invoice (said in the preview)."""
        bill = [item for item in items if item.billable and item.order_id]
        if not bill:
            return []
        group_of_order = {}
        group_total = defaultdict(float)
        for item in items:
            if item.billable:
                group_total[item.group_key] += item.amount
        for item in bill:
            group_of_order.setdefault(item.order_id, item.group_key)
        orders = self.env["sale.order"].browse(list(group_of_order))
        downpayments = self.search(self._psa_get_downpayments_to_deduct_domain(orders), order="order_id, id")
        deductions = []
        for line in downpayments:
            group_key = group_of_order[line.order_id.id]
            item = line._psa_prepare_billable_item(run, line.qty_to_invoice, "downpayment")
            item.order = None
            invoices = line.invoice_lines.move_id.filtered(lambda move: move.state != "cancel")
            if line.currency_id.compare_amounts(group_total[group_key] + item.amount, 0.0) < 0:
                item.skip(
                    self.env._(
                        "down payment of %(amount)s kept for a later invoice: this one is smaller",
                        amount=format_amount(self.env, -item.amount, line.currency_id),
                    )
                )
                deductions.append(item)
                continue
            group_total[group_key] += item.amount
            item.group_key = group_key
            item.explanation = self.env._(
                "Down payment %(name)s invoiced on %(invoices)s, deducted: %(amount)s (order %(order)s).",
                name=line.name,
                invoices=", ".join(invoices.mapped("name")) or "-",
                amount=format_amount(self.env, item.amount, line.currency_id),
                order=line.order_id.name,
            )
            item.keys = [line._psa_quantity_key()]
            deductions.append(item)
        return deductions
