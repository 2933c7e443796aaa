from collections import defaultdict

from odoo import Command, api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import SQL, format_amount

from ..tools import approval_rules
from ..tools.billable import BillableItem
from ..tools.billing_keys import INTERCOMPANY_PERIOD, TIME_PERIOD, exactly_once_key, intercompany_group_key
from ..tools.billing_run import summarize_time

# "Re-check rules" on more entries than this runs as approval jobs (the person is told), fewer in the request
CHECK_RULES_SYNC_LIMIT = 2000
APPROVAL_STATES = [
    ("to_approve", "To Approve"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("invoiced", "Invoiced"),
]
# Once approved (released for billing) a time entry is locked: these fields drive what is billed.
LOCKED_STATES = {"approved", "invoiced"}


class AccountAnalyticLine(models.Model):
    """Time entries are a billing source twice: approved time billed on its order line (one item per
    order line, each entry keyed once), and intercompany time billed to the company whose project
    it is (one item per project, employee company and rate, each entry keyed once more).

    The report "time awaiting approval" is a pivot of time entries: they format their grouped reads as the
    reporting models do (``psa.reporting.mixin``, Odoo's result at a third of its cost)."""

    _name = "account.analytic.line"
    _inherit = ["account.analytic.line", "psa.billable.mixin", "psa.reporting.mixin"]
    _psa_billing_sequence = 10
    _psa_intercompany_listed_entries = 50

    psa_approval_state = fields.Selection(
        APPROVAL_STATES,
        string="Approval",
        default="to_approve",
        index=True,
        copy=False,
        help="Only approved time is released for billing.",
    )
    psa_drawdown_ids = fields.One2many("psa.prepaid.drawdown", "timesheet_id", string="Prepaid Draw-down")
    psa_approved_by_id = fields.Many2one("res.users", string="Approved By", readonly=True, copy=False)
    psa_approval_date = fields.Datetime(string="Approved On", readonly=True, copy=False)
    psa_approval_reason = fields.Char(
        string="Approval Reason",
        readonly=True,
        copy=False,
        help="Why this entry was approved or rejected, by a person or by a rule.",
    )

    @api.model
    def _psa_locked_fields(self):
        """Hook for extensions: fields that may not change once a time entry is approved."""
        return {
            "unit_amount",
            "amount",
            "date",
            "employee_id",
            "user_id",
            "project_id",
            "task_id",
            "so_line",
            "name",
        }

    def _psa_check_unlocked(self, fields_changed=None):
        locked = self.filtered(lambda line: line.project_id and line.psa_approval_state in LOCKED_STATES)
        if not locked:
            return
        if fields_changed is not None and not (set(fields_changed) & self._psa_locked_fields()):
            return
        states = dict(APPROVAL_STATES)
        line = locked[0]
        raise UserError(
            self.env._(
                'Time entry "%(entry)s" of %(employee)s on %(date)s is %(state)s (%(reason)s): '
                "it can no longer be changed or deleted. Ask a manager to reset it to To Approve.",
                entry=line.name or "/",
                employee=line.employee_id.name,
                date=line.date,
                state=states[line.psa_approval_state].lower(),
                reason=line.psa_approval_reason or "no reason recorded",
            )
        )

    def write(self, vals):
        if not self.env.context.get("psa_approval_write"):
            self._psa_check_unlocked(vals.keys())
            if "psa_approval_state" in vals:
                raise UserError(self.env._("Use the Approve, Reject or Reset actions to change an approval."))
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_psa_approved(self):
        self._psa_check_unlocked()

    def _psa_set_approval(self, state, reason):
        """Move the lines to ``state`` in one write, recording who and why."""
        if state not in self._psa_released_states():
            # time no longer released gives its prepaid draw-down back (drawn again once re-approved)
            self.sudo().psa_drawdown_ids.filtered(lambda d: d.fund_id.state != "settled").unlink()
        result = self.with_context(psa_approval_write=True).write(
            {
                "psa_approval_state": state,
                "psa_approved_by_id": self.env.user.id if state == "approved" else False,
                "psa_approval_date": fields.Datetime.now() if state == "approved" else False,
                "psa_approval_reason": reason,
            }
        )
        if state == "approved":
            # drawn at once, so that prepaid time is never delivered (and billed) before it is drawn
            self.env["psa.prepaid.fund"].sudo()._psa_draw_for_timesheets(self)
        return result

    def _psa_set_invoiced(self, invoiced):
        """Mark released time invoiced when its invoice is posted, and approved again when it is not.

        Only the state moves: who approved the time and why stays on the line.
        """
        old_state, new_state = ("approved", "invoiced") if invoiced else ("invoiced", "approved")
        lines = self.filtered(lambda line: line.psa_approval_state == old_state)
        if not lines:
            return True
        released = self._psa_released_states()
        if old_state not in released or new_state not in released:
            return lines.with_context(psa_approval_write=True).write({"psa_approval_state": new_state})
        # Both states release the time, so nothing computed from the state (the delivered quantity of
        # the order line) changes: one statement for the whole invoice batch, and the caches are told.
        # Through the ORM, posting 200 invoices of 20 entries each recomputed 200 delivered quantities.
        lines.flush_recordset(["psa_approval_state"])
        self.env.cr.execute(
            SQL(
                """
                UPDATE account_analytic_line
                   SET psa_approval_state = %s, write_uid = %s, write_date = NOW() AT TIME ZONE 'UTC'
                 WHERE id = ANY(%s) AND psa_approval_state = %s
                """,
                new_state,
                self.env.uid,
                lines.ids,
                old_state,
            )
        )
        lines.invalidate_recordset(["psa_approval_state", "write_uid", "write_date"])
        return True

    def _psa_check_approver(self):
        if not self.env.user.has_group("hr_timesheet.group_timesheet_manager"):
            raise UserError(self.env._("Only timesheet managers can approve, reject or reset time entries."))

    def _psa_lock_for_decision(self):
        """Lock the lines and read their approval state again.

        A person and the approval job deciding on the same line at once: the second waits for the
        first; if the first changed the line, the second fails with a serialization error (Odoo's
        transactions are REPEATABLE READ) and Odoo retries it, so it sees the decision instead of
        overwriting it.
        """
        if self.ids:
            self.env.cr.execute(
                "SELECT id FROM account_analytic_line WHERE id = ANY(%s) FOR UPDATE", (self.ids,), log_exceptions=False
            )
        self.invalidate_recordset(["psa_approval_state", "psa_approval_reason", "psa_approved_by_id"])

    def action_psa_approve(self, reason=None):
        self._psa_check_approver()
        self._psa_lock_for_decision()
        to_approve = self.filtered(lambda line: line.psa_approval_state in ("to_approve", "rejected"))
        if self - to_approve:
            raise UserError(
                self.env._(
                    "%(count)s of the selected entries are already approved or invoiced.", count=len(self - to_approve)
                )
            )
        return to_approve._psa_set_approval(
            "approved", reason or self.env._("approved by %(user)s", user=self.env.user.name)
        )

    def action_psa_reject(self, reason):
        self._psa_check_approver()
        if not reason:
            raise UserError(self.env._("Say why the time is rejected: the employee sees the reason."))
        self._psa_lock_for_decision()
        if self.filtered(lambda line: line.psa_approval_state == "invoiced"):
            raise UserError(self.env._("Invoiced time cannot be rejected: issue a credit note instead."))
        return self._psa_set_approval("rejected", reason)

    def action_psa_reset(self):
        self._psa_check_approver()
        self._psa_lock_for_decision()
        if self.filtered(lambda line: line.psa_approval_state == "invoiced"):
            raise UserError(self.env._("Invoiced time cannot be reset: issue a credit note instead."))
        return self._psa_set_approval("to_approve", self.env._("reset by %(user)s", user=self.env.user.name))

    def action_psa_approve_selection(self):
        """Approve from the Action menu: what can be approved is, and the notification says what was."""
        self._psa_check_approver()
        lines = self.filtered(lambda line: line.project_id)
        lines.action_psa_approve()
        return self._psa_notify(
            self.env._("%(count)s time entries approved.", count=len(lines)),
            next_action={"type": "ir.actions.client", "tag": "soft_reload"},
        )

    def action_psa_check_rules(self):
        """Re-check the approval rules now on the selected entries waiting for approval.

        The same decision, and the same reason, as the hourly job gives. Up to ``CHECK_RULES_SYNC_LIMIT``
        entries are decided in the person's request (the result shows at once); a larger selection is cut
        into approval jobs like the hourly run's, and the notification says so.
        """
        self._psa_check_approver()
        waiting = self.filtered(lambda line: line.project_id and line.psa_approval_state == "to_approve")
        # sudo: the rules and the budgets they read are the job's; the person is a timesheet manager
        rules = self.env["psa.approval.rule"].sudo().search([("company_id", "in", waiting.company_id.ids)])
        if len(waiting) > CHECK_RULES_SYNC_LIMIT:
            return waiting._psa_check_rules_in_jobs(rules)
        approved = 0
        for company in waiting.company_id:
            lines = waiting.filtered(lambda line, company=company: line.company_id == company)
            lines._psa_lock_for_decision()
            lines = lines.filtered(lambda line: line.psa_approval_state == "to_approve")
            company_rules = rules.filtered(lambda rule, company=company: rule.company_id == company)
            approved += lines.sudo().with_company(company)._psa_apply_rules(company_rules)
        return self._psa_notify(
            self.env._(
                "%(approved)s of %(count)s entries approved by the rules; the others say why in Approval Reason.",
                approved=approved,
                count=len(waiting),
            ),
            next_action={"type": "ir.actions.client", "tag": "soft_reload"},
        )

    def _psa_check_rules_in_jobs(self, rules):
        """Enqueue the rule check of a large selection as approval jobs, company by company."""
        enqueued = 0
        for company in self.company_id:
            company_rules = rules.filtered(lambda rule, company=company: rule.company_id == company)
            if not company_rules:
                continue
            if company_rules._psa_live_approval_jobs(company):
                raise UserError(
                    self.env._(
                        "The automatic approval of %(company)s is running: check the rules again once it is done "
                        "(Approval Reason shows its decisions).",
                        company=company.name,
                    )
                )
            lines = self.filtered(lambda line, company=company: line.company_id == company)
            enqueued += company_rules._psa_enqueue_auto_approval(company, CHECK_RULES_SYNC_LIMIT, line_ids=lines.ids)
        return self._psa_notify(
            self.env._(
                "%(count)s entries are being checked in the background; Approval Reason shows each decision "
                "within minutes.",
                count=enqueued,
            )
        )

    @api.model
    def _psa_demo_release_sample_time(self):
        """Demo data only: the sample time of Odoo and OCA add-ons (hr_timesheet, sale_timesheet, time off,
        helpdesk demo data: every entry on a project that is not one of the suite's demo projects) is released
        as it was before the suite, so that "Time to Approve" holds the suite's demo time, each entry with its
        reason, and not hundreds of entries nobody of Northwind logged."""
        suite_projects = (
            self.env["ir.model.data"].sudo().search([("model", "=", "project.project"), ("module", "=like", "psa\\_%")])
        )
        lines = self.sudo().search(
            [
                ("project_id", "!=", False),
                ("project_id", "not in", suite_projects.mapped("res_id")),
                ("psa_approval_state", "=", "to_approve"),
            ]
        )
        lines._psa_set_approval("approved", self.env._("released at install: Odoo's sample data, not the PSA demo"))
        return len(lines)

    def _psa_notify(self, message, next_action=None):
        params = {"message": message, "type": "success", "sticky": False}
        if next_action:
            params["next"] = next_action
        return {"type": "ir.actions.client", "tag": "display_notification", "params": params}

    # ------------------------------------------------------------------------------------------
    # Automatic approval (see psa.approval.rule._cron_auto_approve)
    # ------------------------------------------------------------------------------------------
    @api.model
    def _psa_released_states(self):
        """Hook for extensions: approval states whose time is released for billing."""
        return ("approved", "invoiced")

    def _psa_rule_facts(self, rules, lines):
        """Read, in a few grouped queries, every fact the rules need about ``lines`` (plain values)."""
        kinds = set(rules.mapped("kind"))
        facts = approval_rules.Facts(today=fields.Date.context_today(self))
        for company in self.env["res.company"].browse({line.company_id for line in lines}):
            facts.lock_dates[company.id] = self.env["psa.approval.rule"]._psa_get_lock_date(company)
        if approval_rules.KIND_MAX_HOURS_DAY in kinds and lines:
            dates = [line.date for line in lines]
            groups = self._read_group(
                [
                    ("project_id", "!=", False),
                    ("employee_id", "in", list({line.employee_id for line in lines})),
                    ("date", ">=", min(dates)),
                    ("date", "<=", max(dates)),
                    ("psa_approval_state", "!=", "rejected"),
                ],
                ["employee_id", "date:day"],
                ["unit_amount:sum"],
            )
            facts.hours_per_day = {(employee.id, day): hours for employee, day, hours in groups}
        if approval_rules.KIND_BUDGET in kinds:
            released = [("psa_approval_state", "in", self._psa_released_states())]
            tasks = self.env["project.task"].browse({line.task_id for line in lines if line.task_id})
            tasks = tasks.filtered(lambda task: task.allocated_hours > 0)
            used = dict(self._read_group(released + [("task_id", "in", tasks.ids)], ["task_id"], ["unit_amount:sum"]))
            facts.task_budgets = {task.id: task.allocated_hours - used.get(task, 0.0) for task in tasks}
            uom_hour = self.env.ref("uom.product_uom_hour")
            order_lines = self.env["sale.order.line"].browse({line.so_line_id for line in lines if line.so_line_id})
            order_lines = order_lines.filtered(lambda sol: sol.product_uom.category_id == uom_hour.category_id)
            used = dict(
                self._read_group(released + [("so_line", "in", order_lines.ids)], ["so_line"], ["unit_amount:sum"])
            )
            facts.order_line_budgets = {
                sol.id: sol.product_uom._compute_quantity(sol.product_uom_qty, uom_hour) - used.get(sol, 0.0)
                for sol in order_lines
            }
        for group in rules.group_id:
            facts.group_users[group.id] = set(group.users.ids)
            facts.group_names[group.id] = group.full_name
        return facts

    def _psa_to_plain(self):
        """The lines as plain values for the rule evaluation, and their current approval reasons.

        One query instead of the ORM's per-field fetching: the cron reads up to 100,000 lines.
        """
        self.flush_recordset()
        rows = self.env.execute_query(
            SQL(
                """
                SELECT line.id, line.company_id, line.date, line.unit_amount, line.employee_id,
                       COALESCE(employee.user_id, line.user_id), line.name, project.partner_id,
                       line.project_id, line.task_id, line.so_line, line.psa_approval_reason
                  FROM account_analytic_line line
                  LEFT JOIN hr_employee employee ON employee.id = line.employee_id
                  LEFT JOIN project_project project ON project.id = line.project_id
                 WHERE line.id = ANY(%s)
                """,
                self.ids,
            )
        )
        partners = self.env["res.partner"].browse({row[7] for row in rows if row[7]})
        commercial = {partner.id: partner.commercial_partner_id.id for partner in partners}
        lines, reasons = [], {}
        for row in rows:
            lines.append(
                approval_rules.Line(
                    id=row[0],
                    company_id=row[1],
                    date=row[2],
                    hours=row[3] or 0.0,
                    employee_id=row[4] or 0,
                    user_id=row[5] or 0,
                    description=row[6] or "",
                    partner_id=commercial.get(row[7], 0),
                    project_id=row[8] or 0,
                    task_id=row[9] or 0,
                    so_line_id=row[10] or 0,
                )
            )
            reasons[row[0]] = row[11]
        return lines, reasons

    def _psa_apply_rules(self, rules):
        """Approve the lines passing every applicable rule, write the failing rule's reason on the others.

        The caller holds the row locks; writes are grouped by reason. Returns how many were approved.
        """
        if not self:
            return 0
        lines, current_reasons = self._psa_to_plain()
        decisions = approval_rules.evaluate(lines, rules._psa_to_plain(), self._psa_rule_facts(rules, lines))
        approved_ids, refused = defaultdict(list), {}
        sentences = {}
        for line_id, decision in decisions.items():
            if decision is None:
                continue
            key = (decision.code, tuple(sorted(decision.params.items())))
            if key not in sentences:
                sentences[key] = rules._psa_decision_reason(decision)
            reason = sentences[key]
            if decision.approved:
                approved_ids[reason].append(line_id)
            elif current_reasons.get(line_id) != reason:
                refused[line_id] = reason
        approved = 0
        for reason, ids in approved_ids.items():
            self.browse(ids)._psa_set_approval("approved", reason)
            approved += len(ids)
        self._psa_write_refusal_reasons(refused)
        return approved

    def _psa_write_refusal_reasons(self, reason_by_line):
        """Write why each line was not approved, in one statement.

        Only this informative column changes (no state, nothing billed): an ORM write per distinct
        reason (one per employee and day) was most of the cron's time on 100,000 lines.
        """
        if not reason_by_line:
            return
        self.env.cr.execute(
            SQL(
                """
                UPDATE account_analytic_line line
                   SET psa_approval_reason = refusal.reason, write_uid = %s, write_date = NOW() AT TIME ZONE 'UTC'
                  FROM (SELECT unnest(%s::int[]) AS id, unnest(%s::varchar[]) AS reason) refusal
                 WHERE line.id = refusal.id
                """,
                self.env.uid,
                list(reason_by_line),
                list(reason_by_line.values()),
            )
        )
        self.browse(reason_by_line).invalidate_recordset(["psa_approval_reason", "write_uid", "write_date"])

    # ------------------------------------------------------------------------------------------
    # Billing source (psa.billable.mixin): approved time on its order line
    # ------------------------------------------------------------------------------------------
    @api.model
    def _psa_get_billable_domain(self, run):
        """Released time entries ``run`` bills on their order line."""
        return [
            ("project_id", "!=", False),
            ("so_line", "!=", False),
            ("psa_approval_state", "=", "approved"),
            # never invoiced, or its invoice was cancelled or reversed in full by a credit note
            "|",
            "|",
            ("timesheet_invoice_id", "=", False),
            ("timesheet_invoice_id.state", "=", "cancel"),
            ("timesheet_invoice_id.payment_state", "=", "reversed"),
            ("date", "<=", run.period_end),
            # time a prepaid fund paid for in full is not billed again (only the overage is)
            "|",
            ("psa_drawdown_ids", "=", False),
            ("psa_drawdown_ids.overage_quantity", ">", 0),
            ("so_line.order_id.state", "=", "sale"),
            ("so_line.company_id", "in", run.company_ids.ids),
            ("so_line.qty_delivered_method", "=", "timesheet"),
            ("so_line.product_id.invoice_policy", "=", "delivery"),
            *run._psa_customer_domain("so_line.order_id.partner_id.commercial_partner_id"),
        ]

    @api.model
    def _psa_collect_billable(self, run, run_lines=None):
        """Approved time (one item per order line), intercompany time and, for a preview, the time
        still waiting for approval (skipped, said)."""
        domain = self._psa_get_billable_domain(run)
        if run_lines is not None:
            domain.append(("so_line", "in", run_lines.sale_line_id.ids))
        items = self._psa_collect_time(run, domain) if run_lines is None or run_lines.sale_line_id else []
        items += self._psa_collect_intercompany(run, run_lines)
        if run_lines is None:
            items += self._psa_collect_unapproved_time(run)
        return items

    @api.model
    def _psa_collect_time(self, run, domain):
        # approved time is billed by the run's clerk, who may not read every employee's entries
        rows = self.sudo()._read_group(domain, ["so_line"], ["id:array_agg", "unit_amount:sum", "date:min", "date:max"])
        items = []
        covered_by_line = self._psa_fund_covered_hours([ts_id for row in rows for ts_id in row[1]])
        rates = {}  # formatting an amount reads the language each time: once per rate and currency
        for sale_line, timesheet_ids, hours, date_from, date_to in rows:
            company = sale_line.company_id
            covered_hours, funds = covered_by_line.get(sale_line.id, (0.0, None))
            # time is logged in the company's time unit; bill it in the order line's unit
            quantity = company.project_time_mode_id._compute_quantity(
                hours - covered_hours, sale_line.product_uom, raise_if_failure=False
            )
            item = sale_line._psa_prepare_billable_item(run, quantity, "time")
            item.explanation = self.env._(
                "%(count)s approved time entries, %(hours)s h from %(date_from)s to %(date_to)s, "
                "at %(rate)s per %(uom)s (order %(order)s, time up to %(period_end)s).",
                count=len(timesheet_ids),
                hours=round(hours, 2),
                date_from=date_from,
                date_to=date_to,
                rate=self._psa_format_rate(rates, sale_line.price_unit, sale_line.currency_id),
                uom=sale_line.product_uom.name,
                order=sale_line.order_id.name,
                period_end=run.period_end,
            )
            if covered_hours:
                item.explanation += " " + self.env._(
                    "%(covered)s h of them paid by prepaid fund %(funds)s: the %(overage)s h beyond it are billed "
                    "at the agreed rate.",
                    covered=round(covered_hours, 2),
                    funds=", ".join(funds.mapped("name")),
                    overage=round(hours - covered_hours, 2),
                )
            item.timesheet_ids = sorted(timesheet_ids)
            item.keys = [exactly_once_key(self._name, ts_id, TIME_PERIOD) for ts_id in sorted(timesheet_ids)]
            items.append(item)
        return items

    @api.model
    def _psa_format_rate(self, rates, amount, currency):
        """``format_amount`` of ``amount``, remembered in ``rates`` for the next line at the same rate."""
        key = (amount, currency.id)
        if key not in rates:
            rates[key] = format_amount(self.env, amount, currency)
        return rates[key]

    @api.model
    def _psa_fund_covered_hours(self, timesheet_ids):
        """``{sale line id: (hours paid by prepaid funds, funds)}`` for the given time entries."""
        if not timesheet_ids:
            return {}
        rows = (
            self.env["psa.prepaid.drawdown"]
            .sudo()
            ._read_group(
                [("timesheet_id", "in", timesheet_ids), ("covered_hours", ">", 0)],
                ["so_line_id"],
                ["covered_hours:sum", "fund_id:recordset"],
            )
        )
        return {sale_line.id: (hours, funds) for sale_line, hours, funds in rows if sale_line}

    @api.model
    def _psa_collect_unapproved_time(self, run):
        """Time up to the period end still waiting for approval: not billed, said in the preview."""
        domain = [
            ("project_id", "!=", False),
            ("so_line", "!=", False),
            ("psa_approval_state", "=", "to_approve"),
            ("timesheet_invoice_id", "=", False),
            ("date", "<=", run.period_end),
            ("so_line.order_id.state", "=", "sale"),
            ("so_line.company_id", "in", run.company_ids.ids),
            *run._psa_customer_domain("so_line.order_id.partner_id.commercial_partner_id"),
        ]
        rows = self.sudo()._read_group(domain, ["so_line"], ["unit_amount:sum", "__count"])
        return [
            BillableItem(
                kind="skip",
                state="skipped",
                source_type="time",
                company_id=sale_line.company_id.id,
                partner_id=sale_line.order_id.partner_id.commercial_partner_id.id,
                order_id=sale_line.order_id.id,
                sale_line_id=sale_line.id,
                name=sale_line.name,
                quantity=hours,
                **self._psa_unapproved_time_amount(sale_line, hours),
                currency_id=sale_line.currency_id.id,
                skip_reason=self.env._(
                    "%(count)s time entries (%(hours)s h) wait for approval", count=count, hours=round(hours, 2)
                ),
            )
            for sale_line, hours, count in rows
        ]

    @api.model
    def _psa_unapproved_time_amount(self, sale_line, hours):
        """What the waiting time would bill once approved (its rate and amount), shown on the skipped line.

        Only time-and-materials lines bill their time; a fixed price or milestone line shows 0.00.
        """
        if sale_line.qty_delivered_method != "timesheet":
            return {"price_unit": 0.0, "amount": 0.0}
        quantity = sale_line.company_id.project_time_mode_id._compute_quantity(
            hours, sale_line.product_uom, raise_if_failure=False
        )
        return {
            "price_unit": sale_line.price_unit,
            "amount": sale_line.currency_id.round(quantity * sale_line.price_unit * (1 - sale_line.discount / 100)),
        }

    # ------------------------------------------------------------------------------------------
    # Billing source: intercompany time
    # ------------------------------------------------------------------------------------------
    @api.model
    def _psa_get_intercompany_domain(self, run):
        """Hook for extensions: released time of the run's companies' employees on other companies' projects.

        "Other" is per time entry (the employee's company is not the project's), so a run covering
        both companies bills between them too.
        """
        per_company = [
            [("employee_id.company_id", "=", company.id), ("company_id", "!=", company.id)]
            for company in run.company_ids
        ]
        return expression.AND(
            [
                [
                    ("project_id", "!=", False),
                    ("psa_approval_state", "in", self._psa_released_states()),
                    ("date", "<=", run.period_end),
                ],
                expression.OR(per_company) if per_company else expression.FALSE_DOMAIN,
            ]
        )

    @api.model
    def _psa_collect_intercompany(self, run, run_lines=None):
        """Intercompany time: one item per project, employee company and rate; at the confirm the
        time entries the lines of ``run_lines`` previewed."""
        domain = self._psa_get_intercompany_domain(run)
        if run_lines is not None:
            lines = run_lines.filtered(lambda line: line.source_type == "intercompany")
            # the time entries the lines previewed, whoever may read them (the clerk may not see another
            # company's time: the source reads it for the run, scoped by the domain below)
            ids = set(lines.sudo().timesheet_ids.ids) | set(lines.mapped("source_res_id"))
            if not ids:
                return []
            domain = expression.AND([domain, [("id", "in", list(ids))]])
        else:
            # the preview leaves out, in the database, the entries already billed (keyed): their
            # number grows with the history, what is left to bill does not
            domain = expression.AND([domain, [("id", "not in", self._psa_billed_subquery(INTERCOMPANY_PERIOD))]])
        # another company's time: read to bill it to that company, scoped by the domain above
        timesheets = self.sudo().search(domain, order="company_id, project_id, date, id")
        customer_ids = run._psa_customer_ids()
        if customer_ids is not None:
            customer_ids = set(customer_ids)
            timesheets = timesheets.filtered(lambda ts: ts.company_id.partner_id.id in customer_ids)
        if run.cadence != "manual":
            # the buying company is billed at its own cadence, as any customer
            customers = run._psa_partners_on_cadence(timesheets.company_id.partner_id)
            timesheets = timesheets.filtered(lambda ts: ts.company_id.partner_id in customers)
        if not timesheets:
            return []
        previewed = self._psa_intercompany_previewed_refs(run, timesheets) if run_lines is not None else {}
        keys = {ts.id: exactly_once_key(self._name, ts.id, INTERCOMPANY_PERIOD) for ts in timesheets}
        taken = self.env["psa.billing.key"]._psa_existing(list(keys.values()))
        groups = defaultdict(list)
        rates = {}
        for timesheet in timesheets:
            rate, rule = self._psa_intercompany_rate(timesheet)
            group = self._psa_intercompany_group(timesheet, rate, rule)
            groups[group].append(timesheet.id)
            rates[group] = (rate, rule)
        items = []
        for group, timesheet_ids in groups.items():
            group_timesheets = timesheets.browse(timesheet_ids)
            todo = group_timesheets.filtered(lambda ts: keys[ts.id] not in taken)
            if run_lines is None:
                # the preview lists what is left to bill; the confirm reports "already billed" itself
                if todo:
                    items.append(self._psa_prepare_intercompany_item(run, todo, keys, *rates[group]))
                continue
            if not todo:
                # every entry billed meanwhile: the keys make the confirm say on which invoice
                item = self._psa_prepare_intercompany_item(run, group_timesheets, keys, *rates[group])
            else:
                item = self._psa_prepare_intercompany_item(run, todo, keys, *rates[group])
                left_out = len(group_timesheets) - len(todo)
                if left_out:
                    item.explanation += " " + self.env._(
                        "%(count)s time entries of the preview were billed meanwhile and are left out.",
                        count=left_out,
                    )
                    item.invoice_line_vals["psa_billing_explanation"] = item.explanation
            # the line is found again by the first time entry it previewed, even if that one is no
            # longer billable (sent back for approval since the preview)
            item.source_res_id = previewed.get(min(group_timesheets.ids), min(group_timesheets.ids))
            items.append(item)
        return items

    @api.model
    def _psa_intercompany_previewed_refs(self, run, timesheets):
        """``{time entry id: source_res_id of the intercompany run line that previewed it}``."""
        # the run's own lines and the time they previewed, read whoever may see that time (as above)
        lines = (
            self.env["psa.billing.run.line"]
            .sudo()
            .search(
                [
                    ("run_id", "=", run.id),
                    ("source_type", "=", "intercompany"),
                    ("timesheet_ids", "in", timesheets.ids),
                ]
            )
        )
        return {ts_id: line.source_res_id for line in lines for ts_id in line.timesheet_ids.ids}

    @api.model
    def _psa_intercompany_group(self, timesheet, rate, rule):
        """Hook for extensions: the time entries with the same group become one invoice line: one
        project, one employee company, one rate (and the rule it comes from), whatever the task."""
        return (
            timesheet.employee_id.company_id.id,
            timesheet.company_id.id,
            timesheet.project_id.id,
            round(rate, 6),
            rule,
        )

    @api.model
    def _psa_intercompany_rate(self, timesheet):
        """Hook for extensions: ``(hourly rate, rule)`` at which the employee's company bills the time."""
        seller = timesheet.employee_id.company_id
        if seller.psa_intercompany_rate:
            return seller.psa_intercompany_rate, self.env._("intercompany rate of %(company)s", company=seller.name)
        return timesheet.employee_id.sudo().hourly_cost, self.env._(
            "employee cost of %(employee)s (no intercompany rate set on %(company)s)",
            employee=timesheet.employee_id.name,
            company=seller.name,
        )

    @api.model
    def _psa_intercompany_entries_text(self, timesheets):
        """Hook for extensions: the time entries as the explanation lists them (the first
        ``_psa_intercompany_listed_entries``; the run line's *Time Entries* holds them all)."""
        limit = self._psa_intercompany_listed_entries
        text = "; ".join(
            f"{ts.date} {ts.employee_id.name} {round(ts.unit_amount, 2)} h: {ts.name or '-'}"
            for ts in timesheets[:limit]
        )
        if len(timesheets) > limit:
            text += " " + self.env._("and %(count)s more", count=len(timesheets) - limit)
        return text

    @api.model
    def _psa_prepare_intercompany_item(self, run, timesheets, keys, rate, rule):
        """Hook for extensions: the ``BillableItem`` of one group of intercompany time entries (same
        project, employee company and rate): quantity the sum of the hours, the explanation listing
        the entries; one exactly-once key per entry (``keys``: ``{id: key}``)."""
        first = timesheets[:1]
        seller, buyer, project = first.employee_id.company_id, first.company_id, first.project_id
        currency = seller.currency_id
        summary = summarize_time([(ts.date, ts.unit_amount) for ts in timesheets])
        hours = summary["hours"]
        product = self.env.ref("psa_timesheet_billing.product_intercompany_time", raise_if_not_found=False)
        entries = self._psa_intercompany_entries_text(timesheets)
        explanation = self.env._(
            "Intercompany time: %(count)s time entries of %(seller)s, %(hours)s h from %(date_from)s to "
            "%(date_to)s, project %(project)s of %(buyer)s, at %(rate)s per hour (%(rule)s). Entries: %(entries)s.",
            count=summary["count"],
            seller=seller.name,
            hours=round(hours, 2),
            date_from=summary["date_from"],
            date_to=summary["date_to"],
            project=project.name,
            buyer=buyer.name,
            rate=format_amount(self.env, rate, currency),
            rule=rule,
            entries=entries,
        )
        name = self.env._(
            "%(project)s: intercompany time of %(seller)s, %(date_from)s to %(date_to)s",
            project=project.name,
            seller=seller.name,
            date_from=summary["date_from"],
            date_to=summary["date_to"],
        )
        line_vals = {
            "name": name,
            "quantity": hours,
            "price_unit": rate,
            "tax_ids": [],
            "psa_billing_explanation": explanation,
        }
        if product:
            line_vals.update(product_id=product.id, product_uom_id=product.uom_id.id)
        return BillableItem(
            source_type="intercompany",
            source_model=self._name,
            source_res_id=min(timesheets.ids),
            source_name=name,
            company_id=seller.id,
            partner_id=buyer.partner_id.id,
            name=name,
            quantity=hours,
            price_unit=rate,
            currency_id=currency.id,
            amount=currency.round(hours * rate),
            explanation=explanation,
            group_key=intercompany_group_key(seller.id, buyer.partner_id.id, currency.id),
            line_vals={"timesheet_ids": [Command.set(timesheets.ids)]},
            keys=[keys[ts_id] for ts_id in timesheets.ids],
            invoice_line_vals=line_vals,
            invoice_vals=run._psa_generic_invoice_vals(
                buyer.partner_id,
                seller,
                currency,
                self.env._("Intercompany time up to %(date)s", date=run.period_end),
            ),
        )
