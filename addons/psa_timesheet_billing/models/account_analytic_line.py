from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..tools import approval_rules

APPROVAL_STATES = [
    ("to_approve", "To Approve"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("invoiced", "Invoiced"),
]
# Once approved (released for billing) a time entry is locked: these fields drive what is billed.
LOCKED_STATES = {"approved", "invoiced"}


class AccountAnalyticLine(models.Model):
    _inherit = "account.analytic.line"

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

        The same decision, and the same reason, as the hourly job gives.
        """
        self._psa_check_approver()
        waiting = self.filtered(lambda line: line.project_id and line.psa_approval_state == "to_approve")
        # sudo: the rules and the budgets they read are the job's; the person is a timesheet manager
        rules = self.env["psa.approval.rule"].sudo().search([("company_id", "in", waiting.company_id.ids)])
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
