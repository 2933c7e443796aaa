import logging
from collections import defaultdict
from datetime import timedelta

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.osv import expression
from odoo.tools import SQL, format_date

from ..tools import approval_rules

_logger = logging.getLogger(__name__)

RULE_KINDS = [
    (approval_rules.KIND_BUDGET, "Within the remaining budget of the task or order line"),
    (approval_rules.KIND_MAX_HOURS_DAY, "At most N hours per employee per day"),
    (approval_rules.KIND_DESCRIPTION, "Entry has a description"),
    (approval_rules.KIND_OPEN_PERIOD, "Dated within the open period"),
    (approval_rules.KIND_TRUSTED_GROUP, "Employee in a trusted group"),
]
# Two runs of the cron for one company never enqueue at the same time (the budget they consume is shared).
AUTO_APPROVE_LOCK_KEY = 74_201_104
# queue_job channel of the approval chunks (capacity in the server configuration, see the README "Scaling")
APPROVAL_CHANNEL = "root.psa.approval"
LIVE_JOB_STATES = ("wait_dependencies", "pending", "enqueued", "started")
# After this many days waiting for approval, the project manager gets an activity (setting).
WAITING_DAYS_PARAM = "psa_timesheet_billing.approval_reminder_days"


class PsaApprovalRule(models.Model):
    _name = "psa.approval.rule"
    _description = "Automatic Timesheet Approval Rule"
    _order = "company_id, sequence, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)
    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        domain="[('is_company', '=', True)]",
        check_company=True,
        help="Only time on this customer's projects; empty: every customer.",
    )
    project_id = fields.Many2one(
        "project.project",
        string="Project",
        check_company=True,
        help="Only time on this project; empty: every project.",
    )
    kind = fields.Selection(RULE_KINDS, required=True, default=approval_rules.KIND_MAX_HOURS_DAY)
    max_hours = fields.Float(string="Max Hours per Day", default=8.0)
    open_days = fields.Integer(
        string="Open Days",
        default=0,
        help="Entries older than this many days are left for a person; 0: only the company's lock date counts.",
    )
    group_id = fields.Many2one("res.groups", string="Trusted Group")

    @api.constrains("kind", "max_hours", "open_days", "group_id")
    def _check_kind_parameters(self):
        for rule in self:
            if rule.kind == approval_rules.KIND_MAX_HOURS_DAY and rule.max_hours <= 0:
                raise ValidationError(
                    self.env._("Rule %(rule)s: the maximum hours per day must be positive.", rule=rule.name)
                )
            if rule.kind == approval_rules.KIND_OPEN_PERIOD and rule.open_days < 0:
                raise ValidationError(
                    self.env._("Rule %(rule)s: the number of open days cannot be negative.", rule=rule.name)
                )
            if rule.kind == approval_rules.KIND_TRUSTED_GROUP and not rule.group_id:
                raise ValidationError(self.env._("Rule %(rule)s: choose the trusted group.", rule=rule.name))

    # ------------------------------------------------------------------------------------------
    # Automatic approval
    # ------------------------------------------------------------------------------------------
    @api.model
    def _cron_auto_approve(self, batch_size=2000):
        """Enqueue the automatic approval: chunks of about ``batch_size`` entries, one queue job each on
        ``root.psa.approval`` (``_psa_job_auto_approve``), which approve the time passing every applicable
        rule and explain on the rest which rule failed. Returns the number of entries enqueued."""
        rules_by_company = defaultdict(lambda: self.browse())
        for rule in self.sudo().search([]):
            rules_by_company[rule.company_id] |= rule
        enqueued = 0
        for company, rules in rules_by_company.items():
            enqueued += rules._psa_enqueue_auto_approval(company, batch_size)
        self._psa_remind_waiting_time()
        return enqueued

    @api.model
    def _psa_waiting_days(self):
        return int(self.env["ir.config_parameter"].sudo().get_param(WAITING_DAYS_PARAM, 3) or 0)

    @api.model
    def _get_waiting_time_domain(self, days):
        """Hook for extensions: the time entries that waited for approval too long: dated ``days`` ago or more
        (time is logged on the day it is worked; it waits from then)."""
        return [
            ("project_id", "!=", False),
            ("psa_approval_state", "=", "to_approve"),
            ("date", "<=", fields.Date.context_today(self) - timedelta(days=days)),
        ]

    @api.model
    def _psa_remind_waiting_time(self):
        """One activity per project whose time waits for approval longer than the setting's days, for its
        project manager: kept (its note refreshed) while time waits, marked done once none does."""
        days = self._psa_waiting_days()
        activity_type = self.env.ref("psa_timesheet_billing.mail_activity_type_psa_time_waiting")
        wanted = {}
        if days > 0:
            rows = (
                self.env["account.analytic.line"]
                .sudo()
                ._read_group(
                    self._get_waiting_time_domain(days),
                    ["project_id"],
                    ["__count", "unit_amount:sum", "date:min"],
                )
            )
            for project, count, hours, oldest in rows:
                user = project.user_id
                if not user:
                    continue
                values = {"count": count, "hours": round(hours, 2), "date": format_date(self.env, oldest), "days": days}
                if count == 1:
                    summary = self.env._("1 time entry waits for approval")
                    note = self.env._(
                        "1 time entry (%(hours)s h of %(date)s) has waited for approval more than %(days)s days: "
                        "an approval rule holds it (see Why it waits in Time to Approve). Approve or reject it.",
                        **values,
                    )
                else:
                    summary = self.env._("%(count)s time entries wait for approval", **values)
                    note = self.env._(
                        "%(count)s time entries (%(hours)s h, the oldest of %(date)s) have waited for approval "
                        "more than %(days)s days: the approval rules hold them (see Why it waits in Time to "
                        "Approve). Approve or reject them.",
                        **values,
                    )
                wanted[project.id] = {"user_id": user.id, "summary": summary, "note": Markup("<p>%s</p>") % note}
        return self.env["mail.activity"]._psa_sync_activities(
            activity_type,
            "project.project",
            wanted,
            done_feedback=self.env._("No time waits for approval on this project any more."),
        )

    @api.model
    def _get_auto_approve_domain(self, company, rules):
        """Hook for extensions: the time entries the rules of ``company`` look at."""
        domain = [
            ("company_id", "=", company.id),
            ("project_id", "!=", False),
            ("psa_approval_state", "=", "to_approve"),
        ]
        if all(rule.partner_id or rule.project_id for rule in rules):
            scopes = [
                [("project_id", "=", rule.project_id.id)]
                if rule.project_id
                else [("project_id.partner_id.commercial_partner_id", "=", rule.partner_id.id)]
                for rule in rules
            ]
            domain = expression.AND([domain, expression.OR(scopes)])
        return domain

    @api.model
    def _psa_get_lock_date(self, company):
        """Hook for extensions: no time on or before this date is approved automatically."""
        dates = [d for d in (company.fiscalyear_lock_date, company.sale_lock_date, company.hard_lock_date) if d]
        return max(dates) if dates else False

    @api.model
    def _psa_live_approval_jobs(self, company):
        """The approval jobs of ``company`` not finished yet (waiting in the queue or running)."""
        # sudo: the job queue is read to know what is still coming, nothing is shown
        return (
            self.env["queue.job"]
            .sudo()
            .search(
                [
                    ("channel", "=", APPROVAL_CHANNEL),
                    ("state", "in", LIVE_JOB_STATES),
                    ("identity_key", "=like", f"psa-approval-c{company.id}-%"),
                ]
            )
        )

    def _psa_enqueue_auto_approval(self, company, batch_size, line_ids=None):
        """Cut the entries waiting for approval (or ``line_ids``) into chunks and enqueue one job per chunk.

        Chunks never share a task or order line budget (``approval_rules.chunk_by_budget``), so two workers
        deciding two chunks at once never both spend the same remaining hours. While jobs of an earlier run of
        the company are unfinished, nothing is enqueued (the next run picks up what is left); a chunk enqueued
        twice is one job (identity key). Returns the number of entries enqueued.
        """
        self.env.cr.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", (AUTO_APPROVE_LOCK_KEY, company.id))
        if not self.env.cr.fetchone()[0]:
            _logger.info("auto-approval of %s already being enqueued elsewhere: skipped", company.name)
            return 0
        live = self._psa_live_approval_jobs(company)
        if live:
            _logger.info("auto-approval of %s: %s jobs of the last run not finished, skipped", company.name, len(live))
            return 0
        timesheets = self.env["account.analytic.line"].sudo().with_company(company)
        domain = self._get_auto_approve_domain(company, self)
        if line_ids is not None:
            domain = expression.AND([domain, [("id", "in", list(line_ids))]])
        timesheets.flush_model(["task_id", "so_line", "date"])
        rows = self.env.execute_query(
            SQL(
                "SELECT id, task_id, so_line FROM account_analytic_line WHERE id = ANY(%s) ORDER BY date, id",
                timesheets.search(domain).ids,
            )
        )
        if approval_rules.KIND_BUDGET in self.mapped("kind"):
            chunks = approval_rules.chunk_by_budget(rows, batch_size)
        else:
            ids = [row[0] for row in rows]
            chunks = [ids[start : start + batch_size] for start in range(0, len(ids), batch_size)]
        for index, chunk in enumerate(chunks, start=1):
            self.browse().with_delay(
                channel=APPROVAL_CHANNEL,
                identity_key=approval_rules.chunk_identity(company.id, chunk),
                description=self.env._(
                    "Auto-approval of %(company)s: %(count)s entries (chunk %(index)s of %(total)s)",
                    company=company.name,
                    count=len(chunk),
                    index=index,
                    total=len(chunks),
                ),
            )._psa_job_auto_approve(company.id, chunk)
        return len(rows)

    @api.model
    def _psa_job_auto_approve(self, company_id, line_ids):
        """Job: decide one chunk with the company's rules as they are now.

        Idempotent: the entries are locked and their state read again, so an entry decided already (by an
        earlier run of this job, a person, another chunk) is skipped; a refusal reason is written only when it
        changes, and run twice the same chunk writes the same reasons.
        """
        company = self.env["res.company"].browse(company_id).exists()
        rules = self.sudo().search([("company_id", "=", company_id)]) if company else self.browse()
        if not rules:
            return "no active rule: nothing decided"
        approved, locked = rules._psa_auto_approve_chunk(company, line_ids)
        skipped = len(line_ids) - locked
        return f"{approved} approved, {locked - approved} held with their reason, {skipped} skipped"

    def _psa_auto_approve_chunk(self, company, line_ids):
        """Decide ``line_ids`` of ``company`` with these rules; return ``(approved, decided)`` counts.

        Lines a person or another job is changing right now are skipped, and the state is checked again under
        the lock: a line is never approved twice. A line a person decided on since this transaction began
        fails it (serialization): queue_job runs the job again, and it sees the decision.
        """
        timesheets = self.env["account.analytic.line"].sudo().with_company(company)
        self.env.cr.execute(
            "SELECT id FROM account_analytic_line"
            " WHERE id = ANY(%s) AND psa_approval_state = 'to_approve'"
            " FOR UPDATE SKIP LOCKED",
            (list(line_ids),),
            log_exceptions=False,
        )
        locked = timesheets.browse([row[0] for row in self.env.cr.fetchall()])
        return locked._psa_apply_rules(self), len(locked)

    def _psa_to_plain(self):
        return [
            approval_rules.Rule(
                id=rule.id,
                kind=rule.kind,
                name=rule.name,
                company_id=rule.company_id.id,
                partner_id=rule.partner_id.commercial_partner_id.id,
                project_id=rule.project_id.id,
                max_hours=rule.max_hours,
                open_days=rule.open_days,
                group_id=rule.group_id.id,
            )
            for rule in self
        ]

    def _psa_decision_reason(self, decision):
        """Hook for extensions: the sentence written on the time entry for ``decision``.

        What tells one reason from another comes first, so that the start of it, all a list shows, is
        enough to act on ("Over 8 h/day: ...", "Over budget: ..."); dates are in the user's format.
        """
        params = dict(decision.params)
        for key in ("date", "lock"):
            if params.get(key):
                params[key] = format_date(self.env, params[key])
        code = decision.code
        if code == "passed":
            return self.env._("approved automatically: passes %(rules)s", **params)
        if code == "no_description":
            return self.env._("No description: add one to have it approved (rule %(rule)s)", **params)
        if code == "closed_period":
            return self.env._("Closed period: %(date)s is locked until %(lock)s (rule %(rule)s)", **params)
        if code == "too_old":
            return self.env._("Too old: %(date)s is more than %(days)s days ago (rule %(rule)s)", **params)
        if code == "not_trusted":
            return self.env._("Not trusted: the employee is not in %(group)s (rule %(rule)s)", **params)
        if code == "too_many_hours":
            return self.env._("Over %(max)s h/day: %(hours)s h on %(date)s (rule %(rule)s)", **params)
        if code == "no_budget":
            return self.env._("No budget: no task or order line budget to check against (rule %(rule)s)", **params)
        if code == "over_budget":
            params["budget"] = self.env._("task") if params["budget"] == "task" else self.env._("order line")
            return self.env._(
                "Over budget: %(hours)s h, only %(remaining)s h left on the %(budget)s (rule %(rule)s)", **params
            )
        return self.env._("Held by a rule: %(code)s", code=code)
