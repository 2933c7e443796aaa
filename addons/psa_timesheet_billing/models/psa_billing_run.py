import copy
import functools
import hashlib
import logging
import threading
from collections import defaultdict
from datetime import timedelta

from markupsafe import Markup
from psycopg2 import OperationalError

from odoo import Command, api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.service.model import PG_CONCURRENCY_ERRORS_TO_RETRY
from odoo.tools import SQL, float_compare, format_amount, format_datetime, groupby

from odoo.addons.psa_orders.tools import po_rules
from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.jobrunner import runner
from odoo.addons.queue_job.jobrunner.channels import ChannelManager
from odoo.addons.queue_job.utils import must_run_without_delay

from ..tools.billable import BillableItem
from ..tools.billing_keys import source_group_key
from ..tools.billing_run import chunked, staggered_chunks

_logger = logging.getLogger(__name__)

RUN_STATES = [
    ("draft", "Draft"),
    ("previewed", "Previewed"),
    ("running", "Running"),
    ("done", "Done"),
    ("failed", "Done with failures"),
]
# how often a customer is billed: by the next hourly run after release, or by the weekly / monthly run
BILLING_CADENCES = [("as_you_go", "As you go"), ("weekly", "Weekly"), ("monthly", "Monthly")]
# which cadence created a run ("manual": a person did, it bills every customer it names, whatever their cadence)
RUN_CADENCES = [("manual", "Manual"), *BILLING_CADENCES]
# the queue_job channel of the run's jobs (data/psa_queue_job_channels.xml; capacity in the server configuration)
BILLING_CHANNEL = "root.psa.billing"
# states of a queue job that may still run
ACTIVE_JOB_STATES = ("wait_dependencies", "pending", "enqueued", "started")
# a batch that meets a concurrent transaction (invoice numbering of the journal, a row another batch holds) is
# retried this many times, a few seconds apart, before it fails and its lines are marked failed
BATCH_MAX_RETRIES = 10


class PsaBillingRunError(Exception):
    """A group (one future invoice) could not be billed; the message says why."""


def _is_concurrency_error(exc):
    """A serialization failure, deadlock or lock timeout: a concurrent transaction, retried as a whole."""
    return isinstance(exc, OperationalError) and exc.pgcode in PG_CONCURRENCY_ERRORS_TO_RETRY


class PsaBillingRun(models.Model):
    """A bulk billing run: everything invoiceable up to a period end, previewed, then invoiced once."""

    _name = "psa.billing.run"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _description = "Billing Run"
    _order = "period_end desc, id desc"

    name = fields.Char(compute="_compute_name", store=True, readonly=False)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True, readonly=True
    )
    company_ids = fields.Many2many(
        "res.company",
        string="Companies",
        required=True,
        default=lambda self: self.env.company,
        help="The companies whose orders and agreements this run bills.",
    )
    partner_ids = fields.Many2many(
        "res.partner", string="Customers", help="Leave empty to bill every customer with something to bill."
    )
    period_end = fields.Date(
        required=True,
        tracking=True,
        default=lambda self: fields.Date.context_today(self).replace(day=1) - timedelta(days=1),
        help="Time, milestones and agreement periods up to this date are billed.",
    )
    invoice_date = fields.Date(required=True, tracking=True, default=fields.Date.context_today)
    grouping = fields.Selection(
        [("order", "One invoice per order"), ("customer", "One invoice per customer"), ("po", "One invoice per PO")],
        required=True,
        default="order",
        tracking=True,
    )
    mode = fields.Selection(
        [("preview", "Preview first"), ("automatic", "Fully automatic")],
        required=True,
        default="preview",
        help="Fully automatic runs compute and invoice in one go; otherwise someone confirms the preview.",
    )
    post_invoices = fields.Boolean(string="Post Invoices", default=True)
    send_invoices = fields.Boolean(string="Send Invoices", help="Send the posted invoices by email in the background.")
    state = fields.Selection(RUN_STATES, required=True, default="draft", tracking=True, index=True, copy=False)
    cadence = fields.Selection(
        RUN_CADENCES,
        required=True,
        default="manual",
        readonly=True,
        index=True,
        copy=False,
        help="Which cadence created the run. As you go, weekly, monthly: the cron of that cadence, billing only the "
        "customers (and agreements) on it. Manual: a person, billing every customer chosen, whatever their cadence.",
    )
    line_ids = fields.One2many("psa.billing.run.line", "run_id", string="Lines", copy=False)
    # computed from the lines, never written by the batches: jobs running at once never write the run's row
    progress_done = fields.Integer(compute="_compute_progress", help="Invoices (groups) handled so far.")
    progress_total = fields.Integer(readonly=True, copy=False, help="Invoices (groups) this run has to handle.")
    jobs_enqueue_date = fields.Datetime(
        string="Batches Queued On", readonly=True, copy=False, help="When the run's batches were last queued as jobs."
    )
    job_pending_count = fields.Integer(compute="_compute_job_counts", string="Jobs Waiting")
    job_running_count = fields.Integer(compute="_compute_job_counts", string="Jobs Running")
    job_done_count = fields.Integer(compute="_compute_job_counts", string="Jobs Done")
    job_failed_count = fields.Integer(compute="_compute_job_counts", string="Jobs Failed")
    job_count = fields.Integer(compute="_compute_job_counts", string="Jobs")
    progress = fields.Float(compute="_compute_progress")
    currency_id = fields.Many2one(related="company_id.currency_id")
    amount_to_bill = fields.Monetary(compute="_compute_totals", string="To Bill (untaxed)")
    amount_billed = fields.Monetary(compute="_compute_totals", string="Billed (untaxed)")
    skipped_count = fields.Integer(compute="_compute_totals")
    failed_count = fields.Integer(compute="_compute_totals")
    invoice_ids = fields.Many2many("account.move", compute="_compute_totals", string="Invoices")
    invoice_count = fields.Integer(compute="_compute_totals")
    summary = fields.Html(compute="_compute_summary", sanitize=False, help="Per customer: to bill, skipped, failed.")
    preview_date = fields.Datetime(readonly=True, copy=False, help="When the preview was last computed.")
    preview_stale_count = fields.Integer(
        string="Sources Changed",
        readonly=True,
        copy=False,
        help="Sources whose billing changed since the preview (time approved, invoiced elsewhere, agreement "
        "changed...), as found by the last *Check for Changes*: the confirm bills today's figures and says so on "
        "each run line.",
    )
    preview_checked_date = fields.Datetime(
        string="Checked for Changes", readonly=True, copy=False, help="When the preview was last checked for changes."
    )
    preview_stale_message = fields.Char(compute="_compute_preview_stale_message")

    @api.depends("period_end", "cadence")
    def _compute_name(self):
        for run in self:
            if run.cadence == "as_you_go":
                run.name = self.env._("As-you-go billing run of %(date)s", date=run.period_end or "")
            else:
                run.name = self.env._("Billing run up to %(date)s", date=run.period_end or "")

    @api.depends("progress_total", "state", "line_ids.state")
    def _compute_progress(self):
        pending = dict(
            self.env["psa.billing.run.line"]._read_group(
                [("run_id", "in", self.ids), ("state", "=", "pending"), ("kind", "=", "bill")],
                ["run_id"],
                ["group_key:count_distinct"],
            )
        )
        for run in self:
            done = run.progress_total - pending.get(run, 0) if run.state in ("running", "done", "failed") else 0
            run.progress_done = min(max(done, 0), run.progress_total)
            run.progress = 100.0 * run.progress_done / run.progress_total if run.progress_total else 0.0

    def _compute_job_counts(self):
        # counts of the run's own jobs, nothing else: a billing clerk sees how far the run is without the
        # job queue's manager rights
        rows = (
            self.env["queue.job"]
            .sudo()
            ._read_group([("psa_billing_run_id", "in", self.ids)], ["psa_billing_run_id", "state"], ["__count"])
        )
        counts = defaultdict(lambda: defaultdict(int))
        for run, state, count in rows:
            counts[run.id][state] += count
        for run in self:
            by_state = counts[run.id]
            run.job_pending_count = by_state["wait_dependencies"] + by_state["pending"] + by_state["enqueued"]
            run.job_running_count = by_state["started"]
            run.job_done_count = by_state["done"]
            run.job_failed_count = by_state["failed"]
            run.job_count = sum(by_state.values())

    @api.depends("line_ids.state", "line_ids.amount", "line_ids.move_id")
    def _compute_totals(self):
        # added up in the database: the totals of a run of 200,000 lines do not read its lines into memory
        run_ids = [run.id for run in self if isinstance(run.id, int)]
        run_lines = self.env["psa.billing.run.line"]
        totals = defaultdict(lambda: defaultdict(float))
        invoices = defaultdict(set)
        if run_ids:
            for run, state, kind, amount, count in run_lines._read_group(
                [("run_id", "in", run_ids)], ["run_id", "state", "kind"], ["amount:sum", "__count"]
            ):
                by_run = totals[run.id]
                if kind == "bill":
                    by_run["to_bill"] += amount
                if state == "invoiced":
                    by_run["billed"] += amount
                by_run[state] += count
            for run, move_ids in run_lines._read_group(
                [("run_id", "in", run_ids), ("state", "=", "invoiced"), ("move_id", "!=", False)],
                ["run_id"],
                ["move_id:array_agg"],
            ):
                invoices[run.id].update(move_ids)
        for run in self:
            by_run = totals[run.id]
            run.amount_to_bill = by_run["to_bill"]
            run.amount_billed = by_run["billed"]
            run.skipped_count = int(by_run["skipped"])
            run.failed_count = int(by_run["failed"])
            run.invoice_ids = self.env["account.move"].browse(sorted(invoices[run.id]))
            run.invoice_count = len(invoices[run.id])

    @api.depends("line_ids.state", "line_ids.amount", "line_ids.skip_reason", "line_ids.partner_id")
    def _compute_summary(self):
        # apart from the totals: the run's messages read the totals, only its form shows the summary
        for run in self:
            run.summary = run._psa_summary_html(run.line_ids)

    @api.depends("state", "preview_stale_count", "preview_date", "preview_checked_date")
    def _compute_preview_stale_message(self):
        """The banner of a previewed run, from what the last check found (stored: opening the form of a
        large run computes nothing; ``action_check_preview`` does, on demand)."""
        for run in self:
            if run.state != "previewed" or not run.preview_checked_date:
                run.preview_stale_message = False
            elif run.preview_stale_count:
                run.preview_stale_message = self.env._(
                    "preview out of date: %(count)s sources changed since %(time)s",
                    count=run.preview_stale_count,
                    time=format_datetime(self.env, run.preview_date),
                )
            else:
                run.preview_stale_message = self.env._(
                    "no change since the preview (checked %(time)s)",
                    time=format_datetime(self.env, run.preview_checked_date),
                )

    def _psa_changed_sources(self):
        """The sources (``(model, id)``) whose billing differs from the preview: billed or skipped
        now where the preview said otherwise, another quantity or amount, or billable only since."""
        self.ensure_one()
        previewed = {
            self._psa_line_source_ref(line): (line.quantity, line.amount)
            for line in self.line_ids.filtered(lambda line: line.kind == "bill")
        }
        now = {item.source_ref(): (item.quantity, item.amount) for item in self._psa_collect() if item.billable}
        return {
            ref
            for ref in previewed.keys() | now.keys()
            if ref not in previewed
            or ref not in now
            or float_compare(previewed[ref][0], now[ref][0], precision_digits=4)
            or float_compare(previewed[ref][1], now[ref][1], precision_digits=2)
        }

    def action_check_preview(self):
        """Check whether what the previewed runs would bill changed since their preview (time approved,
        invoiced elsewhere, agreement changed): the count goes on the run's banner."""
        for run in self:
            if run.state != "previewed":
                raise UserError(self.env._("Run %(run)s is not a preview: nothing to check.", run=run.name))
            run.write(
                {"preview_stale_count": len(run._psa_changed_sources()), "preview_checked_date": fields.Datetime.now()}
            )
        return True

    @api.model
    def _cron_check_previews(self, limit=50):
        """Refresh the stale-preview banner of previewed runs (hourly), oldest check first, so a
        person opening a run sees what changed without asking; each run commits on its own.

        Idempotent: checking a run again only rewrites its count and check time. Runs checked in
        the last hour are left alone, ``limit`` bounds the work of one call. Returns the runs checked.
        """
        recently = fields.Datetime.subtract(fields.Datetime.now(), hours=1)
        # the cron looks after every company's previews; it only writes the banner's count
        runs = self.sudo().search(
            [
                ("state", "=", "previewed"),
                "|",
                ("preview_checked_date", "=", False),
                ("preview_checked_date", "<", recently),
            ],
            order="preview_checked_date asc nulls first, id",
            limit=limit,
        )
        for run in runs:
            run.with_company(run.company_id).action_check_preview()
            self._psa_commit()
        return runs

    def _psa_summary_html(self, lines):
        rows = []
        for partner, partner_lines in groupby(lines, key=lambda line: line.partner_id):
            partner_lines = self.env["psa.billing.run.line"].union(*partner_lines)
            to_bill = partner_lines.filtered(lambda line: line.kind == "bill")
            reasons = sorted(
                set(partner_lines.filtered(lambda line: line.state in ("skipped", "failed")).mapped("skip_reason"))
            )
            rows.append(
                Markup("<tr><td>%s</td><td class='text-end'>%s</td><td class='text-end'>%s</td><td>%s</td></tr>")
                % (
                    partner.display_name,
                    len(to_bill),
                    format_amount(self.env, sum(to_bill.mapped("amount")), self.currency_id),
                    "; ".join(reasons),
                )
            )
        if not rows:
            return False
        header = Markup("<tr><th>%s</th><th class='text-end'>%s</th><th class='text-end'>%s</th><th>%s</th></tr>") % (
            self.env._("Customer"),
            self.env._("Lines to bill"),
            self.env._("Total (untaxed)"),
            self.env._("Skipped / failed: why"),
        )
        return Markup("<table class='table table-sm'>%s%s</table>") % (header, Markup("").join(rows))

    # ------------------------------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------------------------------
    def _psa_check_companies(self):
        """Runs are company-scoped: a user bills only the companies they work in."""
        for run in self:
            foreign = run.company_ids - self.env.user.company_ids
            if foreign and not self.env.su:
                raise UserError(
                    self.env._(
                        "Run %(run)s bills %(companies)s, which you have no access to.",
                        run=run.name,
                        companies=", ".join(foreign.mapped("name")),
                    )
                )

    def action_preview(self):
        """Dry run: compute what would be billed and skipped, write no invoice."""
        self._psa_check_companies()
        for run in self:
            if run.state not in ("draft", "previewed"):
                raise UserError(
                    self.env._("Run %(run)s is already confirmed: it cannot be previewed again.", run=run.name)
                )
            run_lines = self.env["psa.billing.run.line"]
            run_lines.search([("run_id", "=", run.id)]).unlink()
            chunks = run._psa_preview_customer_chunks()
            everyone = {customer_id for chunk in chunks for customer_id in chunk}
            for index, customer_ids in enumerate(chunks):
                items = run.with_context(psa_collect_customer_ids=tuple(customer_ids))._psa_collect()
                # a customer's lines come from its own chunk only (a source that does not narrow its search
                # to the chunk's customers gives each chunk everything); those of no chunk's customer once
                chunk = set(customer_ids)
                run_lines.create(
                    [
                        item.run_line_vals(run.id)
                        for item in items
                        if item.partner_id in chunk or (index == 0 and item.partner_id not in everyone)
                    ]
                )
                del items
                # what the chunk read (its sources, their lines) leaves the memory: the next chunk reads its own
                self.env.flush_all()
                self.env.invalidate_all()
            run.write(
                {
                    "state": "previewed",
                    "preview_date": fields.Datetime.now(),
                    "preview_stale_count": 0,
                    "preview_checked_date": False,
                }
            )
            counts = dict(run_lines._read_group([("run_id", "=", run.id)], ["kind"], ["__count"]))
            run.message_post(
                body=self.env._(
                    "Preview: %(bill)s line(s) to bill for %(amount)s, %(skip)s skipped.",
                    bill=counts.get("bill", 0),
                    amount=format_amount(self.env, run.amount_to_bill, run.currency_id),
                    skip=counts.get("skip", 0),
                )
            )
        return True

    def _psa_preview_chunk_size(self):
        """Hook for extensions: how many customers the preview collects together (setting
        ``psa_timesheet_billing.preview_chunk_customers``, default 500)."""
        param = self.env["ir.config_parameter"].sudo().get_param("psa_timesheet_billing.preview_chunk_customers")
        return max(int(param or 500), 1)

    def _psa_preview_customer_chunks(self):
        """The customers (commercial partner ids) the preview collects, chunk by chunk: the run's own, or
        every commercial partner when it names none (one whose sources have nothing simply adds nothing).

        Every billing rule looks at one customer's things (their orders, POs, invoices of the day), so a
        customer's lines are the same whichever chunk collects them; the memory a preview needs stays that of
        one chunk, whatever the size of the run (10,000 customers of 20 time entries each took 170 MiB more
        in one go).
        """
        self.ensure_one()
        if self.partner_ids:
            customer_ids = list(dict.fromkeys(self.partner_ids.commercial_partner_id.ids))
        else:
            # archived customers included, as the sources' domains do when the run names nobody
            self.env["res.partner"].flush_model(["commercial_partner_id"])
            customer_ids = [
                row[0]
                for row in self.env.execute_query(
                    SQL("SELECT id FROM res_partner WHERE commercial_partner_id = id ORDER BY id")
                )
            ]
        return chunked(customer_ids, self._psa_preview_chunk_size())

    def action_reset_to_draft(self):
        for run in self:
            if run.state != "previewed":
                raise UserError(self.env._("Only a previewed run can go back to draft (run %(run)s).", run=run.name))
        self.line_ids.unlink()
        self.write({"state": "draft"})
        self._psa_remind_to_confirm()
        return True

    def action_confirm(self):
        """Create (and post, and send, per the run's settings) the invoices, batch by batch."""
        self._psa_check_companies()
        for run in self:
            if run.state == "draft":
                if run.mode != "automatic":
                    raise UserError(
                        self.env._("Run %(run)s is in preview-first mode: compute the preview first.", run=run.name)
                    )
                run.action_preview()
            if run.state not in ("previewed", "failed"):
                raise UserError(
                    self.env._("Run %(run)s is %(state)s: nothing to confirm.", run=run.name, state=run.state)
                )
            run._psa_start()
            run._psa_process(batch_size=run._psa_batch_size())
        self._psa_remind_to_confirm()
        return True

    def action_psa_retry_failed_batches(self):
        """Bill again what failed (a batch job that failed after its last retry, a customer that failed):
        the failed lines go back to the queue in new batch jobs; the failed jobs are closed as retried."""
        for run in self:
            if run.state != "failed":
                raise UserError(
                    self.env._(
                        "Run %(run)s has no failed batch to retry (it is %(state)s).", run=run.name, state=run.state
                    )
                )
        # the run's own failed jobs, closed so that the counts say what is still open; the run was checked above
        failed_jobs = (
            self.env["queue.job"].sudo().search([("psa_billing_run_id", "in", self.ids), ("state", "=", "failed")])
        )
        failed_jobs.button_cancelled()
        return self.action_confirm()

    def action_psa_view_jobs(self):
        """The run's jobs in the job queue (queue_job's list)."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("queue_job.action_queue_job")
        action["domain"] = [("psa_billing_run_id", "=", self.id)]
        # every job of the run, whatever its state (queue_job's action opens on the pending ones)
        action["context"] = {"create": False}
        return action

    def action_view_invoices(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("account.action_move_out_invoice_type")
        action["domain"] = [("id", "in", self.invoice_ids.ids)]
        # keep the customer-invoice context of Odoo's action: its list shows Customer and Invoice Date by it
        action["context"] = {"default_move_type": "out_invoice", "create": False}
        return action

    def _psa_batch_size(self):
        return int(self.env["ir.config_parameter"].sudo().get_param("psa_timesheet_billing.run_batch_size", 50))

    def _psa_start(self):
        """Move to running; failed lines of an earlier attempt are tried again."""
        self.ensure_one()
        run_lines = self.env["psa.billing.run.line"]
        run_lines.search([("run_id", "=", self.id), ("state", "=", "failed")]).write(
            {"state": "pending", "skip_reason": False}
        )
        [(groups,)] = run_lines._read_group(
            [("run_id", "=", self.id), ("state", "=", "pending"), ("kind", "=", "bill")],
            [],
            ["group_key:count_distinct"],
        )
        self.write({"state": "running", "progress_total": groups, "jobs_enqueue_date": False})

    # ------------------------------------------------------------------------------------------
    # Crons
    # ------------------------------------------------------------------------------------------
    @api.model
    def _cron_create_monthly_runs(self, batch_size=50):
        """Create (once per company and month) the run for last month and preview it, for the
        companies billing monthly (``_psa_create_periodic_runs``)."""
        period_end = fields.Date.context_today(self).replace(day=1) - timedelta(days=1)
        self._psa_create_periodic_runs("monthly", period_end)

    @api.model
    def _cron_process_running(self, batch_size=50):
        """Look after every run in ``running`` whose jobs all ended (or were never queued): queue its
        pending groups again (a run created by a cron, a resume after a crash), or, when a batch job
        of the run stopped for good (failed, found dead after its last retry, cancelled), finish it:
        the lines that job did not bill are marked failed with its reason. A run with jobs still to run
        is left to them.

        Idempotent: groups already in a job are not queued again (``_psa_process``), and finishing
        twice changes nothing.
        """
        # the cron looks after every company's runs, as it always has; nothing is shown to anyone
        runs = self.sudo().search([("state", "=", "running")], order="id")
        busy = runs._psa_active_jobs().psa_billing_run_id
        for run in runs - busy:
            run = run.with_company(run.company_id)
            if run.jobs_enqueue_date and run._psa_stopped_jobs():
                run._psa_delay_finish()
            else:
                run._psa_process(batch_size=batch_size)
        self._psa_remind_to_confirm(every_run=True)

    def _psa_stopped_jobs(self):
        """The batch jobs of the run that ended without billing (failed, cancelled) since it was queued."""
        self.ensure_one()
        # the run's own jobs, read to decide how to finish it
        return (
            self.env["queue.job"]
            .sudo()
            .search(
                [
                    ("psa_billing_run_id", "=", self.id),
                    ("method_name", "=", "_psa_job_bill_batch"),
                    ("state", "in", ("failed", "cancelled")),
                    ("date_created", ">=", self.jobs_enqueue_date),
                ],
                order="id desc",
            )
        )

    def _psa_confirm_responsible(self):
        """Hook for extensions: who confirms the run: the company's finance lead, else the person who created it."""
        self.ensure_one()
        if self.company_id.psa_finance_user_id:
            return self.company_id.psa_finance_user_id
        creator = self.create_uid
        return creator if creator.active and not creator.share else self.env["res.users"]

    def _psa_remind_to_confirm(self, every_run=False):
        """A previewed run waits for a person: one activity for its responsible (finance lead), marked done
        when the run is confirmed or reset. On ``self`` only, or on every run (``every_run``, the cron)."""
        activity_type = self.env.ref("psa_timesheet_billing.mail_activity_type_psa_run_to_confirm")
        # sudo: the worker cron looks at every company's runs; it only schedules activities
        runs = self.sudo().search([("state", "=", "previewed")]) if every_run else self.sudo()
        wanted = {}
        for run in runs.filtered(lambda run: run.state == "previewed"):
            user = run._psa_confirm_responsible()
            wanted[run.id] = {
                "user_id": user.id,
                "summary": self.env._("Confirm %(run)s", run=run.name),
                "note": Markup("<p>%s</p>")
                % self.env._(
                    "Previewed on %(date)s: %(amount)s to bill, %(skipped)s line(s) skipped. Check the preview "
                    "(the skipped lines say why), then confirm the run.",
                    date=format_datetime(self.env, run.preview_date, dt_format="short"),
                    amount=format_amount(self.env, run.amount_to_bill, run.currency_id),
                    skipped=run.skipped_count,
                ),
            }
        return self.env["mail.activity"]._psa_sync_activities(
            activity_type,
            self._name,
            wanted,
            scope_ids=None if every_run else self.ids,
            done_feedback=self.env._("The run is no longer waiting for confirmation."),
        )

    @api.model
    def _psa_testing(self):
        return getattr(threading.current_thread(), "testing", False)

    @api.model
    def _psa_commit(self):
        if not self._psa_testing():
            self.env.cr.commit()  # pylint: disable=invalid-commit

    # ------------------------------------------------------------------------------------------
    # Processing
    # ------------------------------------------------------------------------------------------
    def _psa_process(self, batch_size=50):
        """Cut the pending groups into batches of ``batch_size`` invoices and queue one job per batch
        on ``root.psa.billing`` (``_psa_job_bill_batch``); the batch that ends last queues the
        finishing job (``_psa_job_finish``), which moves the run to done or failed.

        Any worker of any node runs the batches, as many at once as the channel's capacity allows.
        Each batch job is one transaction with its exactly-once keys: a batch killed midway leaves
        nothing behind and its job is run again (queue_job requeues the jobs of dead workers).

        The run's row is locked and written while its batches are queued: two callers at once (a
        confirm and the cron) queue them once, the second one waits, then fails on the row the first
        one wrote and is retried, and then finds every pending line in a queued job. Groups already in
        a job that may still run are not queued again; the identity key of a batch (its run and lines)
        keeps queue_job from storing the same batch twice.
        """
        self.ensure_one()
        self.env.cr.execute(
            SQL("SELECT id FROM psa_billing_run WHERE id = %s FOR NO KEY UPDATE", self.id), log_exceptions=False
        )
        queued = self._psa_active_jobs()._psa_batch_line_ids()
        groups = [(key, line_ids) for key, line_ids in self._psa_pending_groups() if not queued.intersection(line_ids)]
        self.jobs_enqueue_date = fields.Datetime.now()
        self.env.flush_all()
        for chunk in staggered_chunks(groups, max(batch_size, 1), self._psa_billing_workers()):
            self._psa_delay_batch(sorted(line_id for _group_key, line_ids in chunk for line_id in line_ids))
        if not groups and not queued or self._psa_jobs_run_now():
            # nothing was queued (or the batches already ran, in tests): finish now
            self._psa_delay_finish()

    @api.model
    def _psa_billing_workers(self):
        """Hook: how many job workers run the billing channel's jobs at once (the batches' ramp-up,
        ``staggered_chunks``).

        The system parameter ``psa_timesheet_billing.run_workers`` when set; else the capacity that
        queue_job's server-wide configuration gives ``root.psa.billing`` (``[queue_job] channels`` or
        ``ODOO_QUEUE_JOB_CHANNELS``: the channel's own, or its closest configured parent's); else the
        channel's capacity stored in the database (queue_job's channels screen).
        """
        # sudo: a technical setting, read only
        param = self.env["ir.config_parameter"].sudo().get_param("psa_timesheet_billing.run_workers")
        if param:
            try:
                return max(int(param), 1)
            except ValueError:
                _logger.warning("psa_timesheet_billing.run_workers is not a number: %r", param)
        channels = runner._channels()
        if channels:
            # queue_job's own reading of its configuration: an unconfigured channel has no capacity of its own
            # and is bounded by its closest parent with one
            manager = ChannelManager()
            try:
                manager.simple_configure(channels)
            except ValueError:
                _logger.warning("queue_job's channels cannot be read: %r", channels)
            else:
                channel = manager.get_channel_by_name(BILLING_CHANNEL, autocreate=True)
                while channel is not None and not channel.capacity:
                    channel = channel.parent
                if channel is not None:
                    return max(channel.capacity, 1)
        # sudo: queue_job's channel configuration, read only
        channel = self.env["queue.job.channel"].sudo().search([("complete_name", "=", BILLING_CHANNEL)], limit=1)
        return max(channel.effective_capacity or 1, 1) if channel else 1

    def _psa_lock_run(self):
        """Lock the run's row for this transaction without waiting: ``False`` when another transaction holds
        it or changed it since this one began (a serialization failure, expected here: not logged)."""
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    SQL("SELECT id FROM psa_billing_run WHERE id = %s FOR NO KEY UPDATE NOWAIT", self.id),
                    log_exceptions=False,
                )
        except OperationalError as exc:
            if not _is_concurrency_error(exc):
                raise
            return False
        return True

    def _psa_jobs_run_now(self):
        """Jobs run in the caller's transaction (tests, ``queue_job__no_delay``), not by the job runner."""
        return must_run_without_delay(self.env)

    def _psa_delay_batch(self, line_ids):
        """Queue the job billing the run lines ``line_ids`` (whole groups)."""
        digest = hashlib.sha1(",".join(map(str, line_ids)).encode()).hexdigest()[:16]
        self.with_delay(
            channel=BILLING_CHANNEL,
            max_retries=BATCH_MAX_RETRIES,
            identity_key=f"psa.billing.run:{self.id}:batch:{digest}",
            description=self.env._("%(run)s: bill %(count)s line(s)", run=self.name, count=len(line_ids)),
        )._psa_job_bill_batch(line_ids)

    def _psa_delay_finish(self):
        """Queue the job finishing the run (one at a time: its identity key is the run's).

        A finishing job already queued that found batches still running waits for its next try (a few
        seconds). Once a batch job's transaction is committed, the batch wakes it up when no other batch job
        of the run may still run (``_psa_wake_waiting_finish``, in a transaction of its own: the finishing job
        was usually put back to wait after the last batch began, which that batch's snapshot does not see),
        so that the run ends when its last batch does, not at that next try.
        """
        self.with_delay(
            channel=BILLING_CHANNEL,
            priority=20,  # after the batches waiting in the channel
            identity_key=f"psa.billing.run:{self.id}:finish",
            description=self.env._("%(run)s: finish", run=self.name),
        )._psa_job_finish()
        current = self.env.context.get("job_uuid")
        if current:
            self.env.cr.postcommit.add(functools.partial(self._psa_wake_finish_after_commit, self.id, current))

    @api.model
    def _psa_wake_finish_after_commit(self, run_id, current_uuid):
        """After the commit of the batch job ``current_uuid``: ``_psa_wake_waiting_finish`` in a new
        transaction (which sees what the other workers committed)."""
        try:
            with self.env.registry.cursor() as cr:
                self.env(cr=cr, su=True)["psa.billing.run"].browse(run_id)._psa_wake_waiting_finish(current_uuid)
        except Exception:  # noqa: BLE001 - only a wake-up: the finishing job runs at its next try anyway
            _logger.warning("billing run %s: could not wake its finishing job up", run_id, exc_info=True)

    def _psa_wake_waiting_finish(self, current_uuid):
        """Wake the run's finishing job waiting for its next try up (``_psa_wake_finish``) when no batch job
        of the run but ``current_uuid`` (the one that just ended) may still run."""
        self.ensure_one()
        if self._psa_active_jobs().filtered(lambda other: other.uuid != current_uuid):
            return
        # the run's own finishing job in the job queue: only its retry time is cleared
        waiting = (
            self.env["queue.job"]
            .sudo()
            .search(
                [
                    ("psa_billing_run_id", "=", self.id),
                    ("method_name", "=", "_psa_job_finish"),
                    ("state", "=", "pending"),
                    ("eta", "!=", False),
                ]
            )
        )
        for job in waiting:
            self._psa_wake_finish(job.uuid)

    def _psa_wake_finish(self, uuid):
        """Run the waiting finishing job ``uuid`` as soon as possible (its retry time cleared), unless another
        transaction holds or changed it (it is being run or woken elsewhere): nothing is waited for."""
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    SQL(
                        "SELECT id FROM queue_job WHERE uuid = %s AND state = 'pending' FOR NO KEY UPDATE NOWAIT",
                        uuid,
                    ),
                    log_exceptions=False,
                )
                job_ids = [row[0] for row in self.env.cr.fetchall()]
                # the job queue's own row of the run's finishing job: only its retry time is cleared
                self.env["queue.job"].sudo().browse(job_ids).write({"eta": False})
                self.env["queue.job"].flush_model(["eta"])
        except OperationalError as exc:
            if not _is_concurrency_error(exc):
                raise

    def _job_store_values(self, job):
        """queue_job hook: the run's jobs know their run (the run form counts and opens them)."""
        return {"psa_billing_run_id": self.id} if len(self) == 1 else {}

    def _psa_active_jobs(self):
        """The batch jobs of these runs that may still run."""
        # the runs' own jobs, read to decide what to queue: nothing is shown or changed
        return (
            self.env["queue.job"]
            .sudo()
            .search(
                [
                    ("psa_billing_run_id", "in", self.ids),
                    ("method_name", "=", "_psa_job_bill_batch"),
                    ("state", "in", ACTIVE_JOB_STATES),
                ]
            )
        )

    def _psa_claim_lines(self, line_ids):
        """Lock the pending lines of ``line_ids`` for this transaction, whole groups only.

        ``FOR UPDATE SKIP LOCKED`` on the run lines, rather than a lock per batch: a batch is only a
        list of lines, and the same lines can be in two jobs (a job run twice by two workers, a job
        requeued while its first worker still runs, a retry cut into other batches). Whoever locks a
        line first bills it; the other skips it at once instead of waiting to find it invoiced. A line
        another transaction invoiced since this one began raises a serialization failure instead, and
        the job is retried: it then finds the line invoiced. A group is billed only when all of its
        pending lines are locked here (one invoice per group, never half of one). A worker that dies
        loses its transaction and with it its locks: the requeued job finds the lines pending again.
        The exactly-once keys (``psa.billing.key``) still guard each source against any other run.
        """
        self.ensure_one()
        self.env["psa.billing.run.line"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT id, group_key FROM psa_billing_run_line
                 WHERE id = ANY(%s) AND run_id = %s AND state = 'pending' AND kind = 'bill'
                 ORDER BY id
                   FOR UPDATE SKIP LOCKED
                """,
                list(line_ids),
                self.id,
            )
        )
        claimed = defaultdict(set)
        for line_id, group_key in self.env.cr.fetchall():
            claimed[group_key].add(line_id)
        if not claimed:
            return self.env["psa.billing.run.line"]
        self.env.cr.execute(
            SQL(
                """
                SELECT group_key, array_agg(id) FROM psa_billing_run_line
                 WHERE run_id = %s AND group_key = ANY(%s) AND state = 'pending' AND kind = 'bill'
                 GROUP BY group_key
                """,
                self.id,
                list(claimed),
            )
        )
        whole = [
            line_id
            for group_key, group_ids in self.env.cr.fetchall()
            if set(group_ids) == claimed[group_key]
            for line_id in group_ids
        ]
        return self.env["psa.billing.run.line"].browse(sorted(whole))

    def _psa_job_bill_batch(self, line_ids):
        """Job: bill the run lines ``line_ids`` (whole groups) in this job's transaction.

        A conflict with a concurrent transaction (the journal's invoice numbering, a row another batch
        changed) is no failure of the customers: the job is retried (``RetryableJobError``), up to
        ``BATCH_MAX_RETRIES`` times, and only then fails. A job that fails marks its lines failed with
        the reason (``_psa_on_batch_job_failed``).
        """
        self.ensure_one()
        if self.state != "running":
            return f"run is {self.state}: nothing to bill"
        lines = self._psa_claim_lines(line_ids)
        if lines:
            try:
                self._psa_bill_groups(lines)
                self.env.flush_all()
            except OperationalError as exc:
                if not _is_concurrency_error(exc):
                    raise
                # retried after the job function's retry pattern (2 s, then 10 s, then 30 s)
                raise RetryableJobError(f"concurrent update, retried: {exc.pgerror or exc}") from exc
        self._psa_after_batch()
        if not self._psa_jobs_run_now():
            # the last batch to end finishes the run; the finishing job waits for the others
            self._psa_delay_finish()
        return f"{len(lines)} line(s) of {len(line_ids)} billed or skipped here"

    def _psa_on_batch_job_failed(self, exc_info=None, exc_name=None, exc_message=None):
        """queue_job's failure hook of a batch job (after its last retry, in a transaction of its own):
        its lines are marked failed with the reason, as a failing customer's are, and the run finishes.

        The lines of the failed job are the run's pending lines no other job of the run may still bill.
        """
        self.ensure_one()
        if self.state != "running":
            return
        reason = self.env._("billing job failed: %(reason)s", reason=exc_message or exc_name or "?")
        self._psa_fail_orphan_lines(reason)
        self._psa_delay_finish()

    def _psa_fail_orphan_lines(self, reason):
        """Mark failed, with ``reason``, the pending lines no job of the run may still bill."""
        queued = self._psa_active_jobs()._psa_batch_line_ids()
        # searched, not read from the run's lines: a run of 200,000 lines finishes without loading them (the
        # run's own lines, whatever company the job's user has active)
        orphans = (
            self.env["psa.billing.run.line"]
            .sudo()
            .search(
                [
                    ("run_id", "=", self.id),
                    ("state", "=", "pending"),
                    ("kind", "=", "bill"),
                    ("id", "not in", list(queued)),
                ]
            )
        )
        if orphans:
            orphans.write({"state": "failed", "skip_reason": reason[:500]})
            self.message_post(
                body=self.env._("%(count)s line(s) failed: %(reason)s", count=len(orphans), reason=reason)
            )
        return orphans

    def _psa_job_finish(self):
        """Job: move the run to done (or failed) once none of its batch jobs may still run.

        Safe to run twice, or at the same time as a batch: it waits (is retried) while a batch job
        is queued or running or another transaction changes the run, and does nothing once the run is
        finished. Lines left pending by a job
        that ended without billing them (found dead after its last retry, cancelled) are marked
        failed with the reason.
        """
        self.ensure_one()
        if self.state != "running":
            return f"run is {self.state}: nothing to finish"
        if not self._psa_lock_run():
            # another transaction holds the run or wrote it since this one began (another finishing job, the
            # worker cron queueing the run again, which finds this job queued and queues no other one): tried
            # again on a fresh snapshot, which finds the run finished, or finishes it
            raise RetryableJobError("the run is being changed by another transaction", seconds=2, ignore_retry=True)
        active = self._psa_active_jobs()
        if active:
            raise RetryableJobError(f"{len(active)} batch job(s) of the run still to end", seconds=2, ignore_retry=True)
        stopped = self._psa_stopped_jobs()[:1] if self.jobs_enqueue_date else self.env["queue.job"]
        reason = (stopped.exc_message or stopped.exc_name or stopped.state) if stopped else self.env._("not billed")
        self._psa_fail_orphan_lines(self.env._("billing job ended without billing it: %(reason)s", reason=reason))
        failed = (
            self.env["psa.billing.run.line"].sudo().search_count([("run_id", "=", self.id), ("state", "=", "failed")])
        )
        self.state = "failed" if failed else "done"
        self.message_post(
            body=self.env._(
                "Run finished: %(invoices)s invoice(s) for %(amount)s; %(skipped)s line(s) skipped, "
                "%(failed)s failed.",
                invoices=self.invoice_count,
                amount=format_amount(self.env, self.amount_billed, self.currency_id),
                skipped=self.skipped_count,
                failed=failed,
            )
        )
        return f"run {self.state}"

    def _psa_pending_groups(self):
        """The run's groups still to bill, in a stable order: ``[(group_key, [run line ids]), ...]``."""
        self.ensure_one()
        rows = self.env["psa.billing.run.line"]._read_group(
            [("run_id", "=", self.id), ("state", "=", "pending"), ("kind", "=", "bill")],
            ["group_key"],
            ["id:array_agg"],
            order="group_key",
        )
        return [(group_key, sorted(line_ids)) for group_key, line_ids in rows]

    def _psa_after_batch(self):
        """Hook for extensions: called after each batch is committed (tests simulate a crash here)."""

    def _psa_bill_groups(self, run_lines):
        """Bill the groups of ``run_lines``: all together first, one savepoint per group on failure."""
        # the sources of these lines say again what they bill now (together with the rest of their groups)
        fresh_by_source = {item.source_ref(): item for item in self._psa_collect(run_lines)}
        plans = self._psa_plan_groups(run_lines, fresh_by_source)
        try:
            with self.env.cr.savepoint():
                self._psa_invoice_plans(plans)
            return
        except Exception as exc:  # find the failing customer(s), then bill the others one by one
            if _is_concurrency_error(exc):
                raise  # another transaction, not the customers: the whole batch is retried (its job)
            _logger.info("billing run %s: batch failed, billing its groups one by one", self.id)
        for plan in plans:
            try:
                with self.env.cr.savepoint():
                    self._psa_invoice_plans([plan])
            except Exception as exc:  # a failing customer is reported, the run goes on
                if _is_concurrency_error(exc):
                    raise
                reason = str(exc.args[0] if getattr(exc, "args", None) else exc)
                plan["run_lines"].write({"state": "failed", "skip_reason": reason[:500]})
                self.message_post(
                    body=self.env._(
                        "Billing %(customer)s failed: %(reason)s", customer=plan["partner"].display_name, reason=reason
                    )
                )

    @api.model
    def _psa_line_source_ref(self, line):
        """``BillableItem.source_ref`` of a run line record."""
        if line.source_model:
            return (line.source_model, line.source_res_id)
        if line.contract_line_id:
            return ("contract.line", line.contract_line_id.id)
        return ("sale.order.line", line.sale_line_id.id or None)

    def _psa_plan_groups(self, run_lines, fresh_by_source):
        """Match the previewed lines with what is billable now, one plan per future invoice.

        Only sources the preview listed are billed. A line no longer billable (billed meanwhile by
        another run, customer put on hold) is skipped with the reason; a line whose quantity grew
        (time approved since the preview) is billed with today's figures, written on the line.
        """
        self._psa_prefetch_invoice_headers(run_lines.order_id)
        plans = []
        for group_key, lines in groupby(run_lines, key=lambda line: line.group_key):
            # each group's lines keep the batch's prefetch: their order lines and orders are read for the
            # whole batch at once, not group by group
            lines = self.env["psa.billing.run.line"].union(*lines).with_prefetch(run_lines._prefetch_ids)
            billable = []
            for line in lines:
                item = fresh_by_source.get(self._psa_line_source_ref(line))
                if not item or not item.billable:
                    reason = (item and item.skip_reason) or self.env._("nothing left to bill (billed meanwhile)")
                    line.write(
                        {
                            "state": "skipped",
                            "skip_reason": reason,
                            "preview_difference": self.env._(
                                "billed in the preview, not billable now: %(reason)s", reason=reason
                            ),
                        }
                    )
                    continue
                if item.group_key != group_key:
                    reason = self.env._("order changed since the preview")
                    line.write({"state": "skipped", "skip_reason": reason, "preview_difference": reason})
                    continue
                fresh = {"quantity": item.quantity, "amount": item.amount, "explanation": item.explanation}
                if any(line[field] != value for field, value in fresh.items()):
                    # what changed since the preview (e.g. more time approved), said on the line
                    fresh["preview_difference"] = self._psa_preview_difference(line, item)
                    line.write(fresh)
                billable.append((line, item))
            if billable and billable[0][0].currency_id.is_zero(sum(item.amount for _line, item in billable)):
                # what is left of the group since the preview has nothing to pay: never a 0.00 invoice
                for line, _vals in billable:
                    line.write({"state": "skipped", "skip_reason": self._psa_zero_total_reason("keep")})
                billable = []
            if billable:
                plans.append(self._psa_prepare_plan(billable))
        return plans

    def _psa_prefetch_invoice_headers(self, orders):
        """Read for the whole batch what Odoo's ``sale.order._prepare_invoice`` reads one order at a
        time (the invoice address and its fiscal position per company), so each order's invoice header
        is prepared from the cache instead of fetching its customer alone."""
        if not orders:
            return
        partners = orders.partner_invoice_id | orders.partner_shipping_id
        partners.mapped("country_id")
        for company, company_orders in orders.grouped("company_id").items():
            (company_orders.partner_invoice_id | company_orders.partner_shipping_id).with_company(company).mapped(
                "property_account_position_id"
            )

    def _psa_preview_difference(self, line, item):
        """What the confirm bills differently from the preview, in words (``False`` if only the text)."""
        changes = []
        if float_compare(line.quantity, item.quantity, precision_digits=4):
            changes.append(
                self.env._("quantity %(before)s -> %(now)s", before=round(line.quantity, 4), now=item.quantity)
            )
        if line.currency_id.compare_amounts(line.amount, item.amount):
            changes.append(
                self.env._(
                    "amount %(before)s -> %(now)s",
                    before=format_amount(self.env, line.amount, line.currency_id),
                    now=format_amount(self.env, item.amount, line.currency_id),
                )
            )
        if not changes:
            changes.append(self.env._("explanation changed"))
        return self.env._("since the preview: %(changes)s", changes=", ".join(changes))

    def _psa_prepare_plan(self, billable):
        """Hook for extensions: the invoice values of one group ``[(run_line, BillableItem), ...]``."""
        first_line, _first_item = billable[0]
        orders = (
            self.env["sale.order"]
            .union(*[line.order_id for line, _item in billable])
            .with_prefetch(first_line.order_id._prefetch_ids)
        )
        if any(item.contract_line_id for _line, item in billable) or not orders:
            # agreements and sources without an order bring their own invoice header
            invoice_vals = dict(next(item.invoice_vals for _line, item in billable if item.invoice_vals))
        else:
            # iterated, not indexed: ``orders[0]`` would read each order's fields alone (indexing drops the
            # batch's prefetch)
            invoice_vals = next(iter(orders))._prepare_invoice()
            invoice_vals["invoice_origin"] = ", ".join(orders.mapped("name"))
            refs = [ref for ref in dict.fromkeys(orders.mapped("client_order_ref")) if ref]
            invoice_vals["ref"] = ", ".join(refs)
            if len(orders) > 1:
                invoice_vals["payment_reference"] = False
        invoice_vals.update(self._psa_prepare_invoice_vals())
        return {
            "billable": billable,
            "company": first_line.company_id,
            "partner": first_line.partner_id,
            "invoice_vals": invoice_vals,
            "keys": [key for _line, item in billable for key in item.keys],
            "timesheet_ids": [ts_id for _line, item in billable for ts_id in item.timesheet_ids],
            "receipt_ids": [att_id for _line, item in billable for att_id in item.receipt_ids],
            "run_lines": self.env["psa.billing.run.line"].union(*[line for line, _item in billable]),
            "contract_lines": self.env["contract.line"].union(*[line.contract_line_id for line, _item in billable]),
        }

    def _psa_prepare_invoice_vals(self):
        """Hook for extensions: values every invoice of this run gets."""
        return {"invoice_date": self.invoice_date, "move_type": "out_invoice"}

    def _psa_move_context(self):
        """Hook for extensions: context of the invoices' creation and posting.

        No "Invoice created" chatter line per invoice (the run's own message says what it billed,
        and each invoice line explains itself); field tracking still runs.
        """
        return {"default_move_type": "out_invoice", "mail_create_nolog": True}

    def _psa_invoice_plans(self, plans):
        """Create, key, link, post and queue for sending the invoices of ``plans`` (one transaction).

        Everything is done for the whole batch at once: one ``create`` per company (of the invoices
        whose journal items are all given, and one of the others), one insert of the exactly-once keys,
        one ``_post``, then one statement linking the time entries.
        """
        moves = self.env["account.move"]
        self._psa_prefetch_invoice_lines(plans)
        for company, company_plans in groupby(plans, key=lambda plan: plan["company"]):
            vals_list = []
            for plan in company_plans:
                invoice_vals = copy.deepcopy(plan["invoice_vals"])
                invoice_vals["invoice_line_ids"] = [
                    # a copy: completing the journal amounts must leave the item as collected (a batch retried
                    # group by group creates its invoices again from the same items)
                    Command.create(dict(self._psa_invoice_line_vals(line, item)))
                    for line, item in plan["billable"]
                ]
                vals_list.append(invoice_vals)
            complete = self._psa_complete_line_amounts(vals_list, company)
            move_model = self.env["account.move"].with_company(company).with_context(**self._psa_move_context())
            created = self._psa_create_invoices(move_model, vals_list, complete)
            keys_by_move = {}
            for plan, move in zip(company_plans, created, strict=True):
                plan["move"] = move
                keys_by_move[move.id] = plan["keys"]
            taken = self.env["psa.billing.key"]._psa_insert(keys_by_move, self, company)
            if taken:
                raise PsaBillingRunError(
                    self.env._("%(count)s source(s) were billed by another run at the same time.", count=taken)
                )
            moves |= created
        for plan in plans:
            if plan["contract_lines"]:
                # the agreement moves on to its next period with the invoice, as OCA's own run does
                plan["contract_lines"].sudo()._update_last_date_invoiced()
            if plan["receipt_ids"]:
                self._psa_attach_receipts(plan["move"], plan["receipt_ids"])
        if self.post_invoices:
            self._psa_subscribe_customers(moves)
            moves = moves.with_context(**self._psa_posting_context(moves))
            self._psa_check_before_post(moves)
            moves.action_post()
            if self.send_invoices:
                moves.sending_data = {
                    "author_user_id": self.env.user.id,
                    "author_partner_id": self.env.user.partner_id.id,
                }
        # once posted: posting recomputes nothing on the time it bills (see _psa_link_timesheets)
        self._psa_link_timesheets(plans)
        self._psa_write_back(plans)
        self.env.flush_all()
        if self.post_invoices and self.send_invoices:
            self.env.ref("account.ir_cron_account_move_send")._trigger()
        return moves

    def _psa_create_invoices(self, move_model, vals_list, complete):
        """Create the invoices of ``vals_list`` in one ``create`` per kind, in their order.

        The invoices whose journal items are all given (``complete``: indexes into ``vals_list``, see
        ``_psa_complete_line_amounts``) are created without Odoo's line synchronisation, which would only
        compute them again; their balance is still checked at creation and at posting. The others are
        synchronised by Odoo as usual. The created invoices carry ``move_model``'s context, without the
        skipped synchronisation: a move created or written later (when posting) is synchronised.
        """
        moves = [None] * len(vals_list)
        for given in (True, False):
            indexes = [index for index in range(len(vals_list)) if (index in complete) == given]
            if not indexes:
                continue
            model = move_model.with_context(skip_invoice_sync=True) if given else move_model
            for index, move in zip(indexes, model.create([vals_list[index] for index in indexes]), strict=True):
                moves[index] = move.id
        return move_model.browse(moves)

    def _psa_complete_line_amounts(self, vals_list, company):
        """Give the batch's invoices all their journal items, computed by Odoo's tax and payment-term
        engines from the values the product lines are created with, as the invoice's line
        synchronisation computes them: the product lines' amounts (``amount_currency``, ``balance``)
        and tax tags, the tax lines and the receivable (payment term) lines, and the due date.

        Created without them, Odoo's synchronisation computes them once per batch and then writes the
        product lines again one invoice at a time (their partner, their balance): about a third of what
        creating a batch costs. Only customer invoices in their company's currency whose product lines
        all carry their taxes, price and quantity, without cash rounding, early-payment discount,
        cash-basis tax or discount allocation lines, and whose taxes post on accounts of their own, are
        completed; every other invoice is left to Odoo's synchronisation entirely.

        :return: the indexes in ``vals_list`` of the invoices completed (``_psa_create_invoices``)
        """
        taxes_model = self.env["account.tax"]
        line_fields = self.env["account.move.line"]._fields
        record = self.env["account.move.line"]
        complete = set()
        for index, invoice_vals in enumerate(vals_list):
            if (
                invoice_vals.get("move_type") != "out_invoice"
                or invoice_vals.get("currency_id") != company.currency_id.id
                or invoice_vals.get("invoice_cash_rounding_id")
                or invoice_vals.get("line_ids")
                or {"invoice_date_due", "tax_totals"} & invoice_vals.keys()
            ):
                continue
            term = self.env["account.payment.term"].browse(invoice_vals.get("invoice_payment_term_id"))
            lines = [command[2] for command in invoice_vals.get("invoice_line_ids", []) if command[0] == Command.CREATE]
            if len(lines) != len(invoice_vals.get("invoice_line_ids", [])) or term.early_discount:
                continue
            product_lines = [vals for vals in lines if vals.get("display_type", "product") == "product"]
            tax_ids = [self._psa_set_command_ids(vals.get("tax_ids")) for vals in product_lines]
            if (
                not product_lines
                or not all(tax_ids)
                or any({"price_unit", "quantity"} - vals.keys() for vals in product_lines)
                or any({"amount_currency", "balance", "tax_tag_ids"} & vals.keys() for vals in product_lines)
                or (
                    # a discount on an invoice of a company that allocates discounts gets lines of its own
                    company.account_discount_expense_allocation_id
                    and any(vals.get("discount") for vals in product_lines)
                )
            ):
                continue
            taxes = [self.env["account.tax"].browse(ids) for ids in tax_ids]
            if any(
                tax.tax_exigibility == "on_payment"
                for line_taxes in taxes
                for tax in line_taxes.flatten_taxes_hierarchy()
            ):
                continue
            partner = self.env["res.partner"].browse(invoice_vals.get("partner_id")).commercial_partner_id
            base_lines = [
                taxes_model._prepare_base_line_for_taxes_computation(
                    None,
                    product_id=self.env["product.product"].browse(vals.get("product_id")),
                    product_uom_id=self.env["uom.uom"].browse(vals.get("product_uom_id")),
                    tax_ids=line_taxes,
                    price_unit=line_fields["price_unit"].convert_to_cache(vals["price_unit"], record),
                    quantity=line_fields["quantity"].convert_to_cache(vals["quantity"], record),
                    discount=line_fields["discount"].convert_to_cache(vals.get("discount") or 0.0, record),
                    currency_id=company.currency_id,
                    partner_id=partner,
                    account_id=self.env["account.account"].browse(vals.get("account_id")),
                    analytic_distribution=vals.get("analytic_distribution"),
                    rate=1.0,
                    sign=-1.0,
                    is_refund=False,
                    special_mode=False,
                )
                for vals, line_taxes in zip(product_lines, taxes, strict=True)
            ]
            taxes_model._add_tax_details_in_base_lines(base_lines, company)
            taxes_model._round_base_lines_tax_details(base_lines, company)
            taxes_model._add_accounting_data_in_base_lines_tax_details(base_lines, company)
            for vals, base_line in zip(product_lines, base_lines, strict=True):
                details = base_line["tax_details"]
                vals["amount_currency"] = -(
                    details["total_excluded_currency"] + details["delta_total_excluded_currency"]
                )
                vals["balance"] = -(details["total_excluded"] + details["delta_total_excluded"])
                vals["tax_tag_ids"] = [Command.set(base_line["tax_tag_ids"].ids)]
            if not all(
                tax_rep_data["account"] or base_line["account_id"]
                for base_line in base_lines
                for tax_data in base_line["tax_details"]["taxes_data"]
                for tax_rep_data in tax_data["tax_reps_data"]
            ):
                continue  # a tax posted on the product line's account, which Odoo computes: synchronised
            tax_lines = taxes_model._prepare_tax_lines(base_lines, company)["tax_lines_to_add"]
            term_lines = self._psa_payment_term_lines(invoice_vals, term, company, product_lines, tax_lines)
            invoice_vals["invoice_date_due"] = max(vals["date_maturity"] for vals in term_lines)
            invoice_vals["line_ids"] = [
                *invoice_vals.pop("invoice_line_ids"),
                *(Command.create({**vals, "display_type": "tax"}) for vals in tax_lines),
                *(Command.create(vals) for vals in term_lines),
            ]
            complete.add(index)
        return complete

    def _psa_payment_term_lines(self, invoice_vals, term, company, product_lines, tax_lines):
        """The receivable lines of an invoice whose product and tax lines are given, as Odoo's
        ``account.move._compute_needed_terms`` makes them for a stored invoice in its company's currency."""
        currency = company.currency_id
        untaxed = -currency.round(sum(vals["balance"] for vals in product_lines))
        tax = -currency.round(sum(vals["balance"] for vals in tax_lines))
        # Odoo's due date of an invoice without payment term, created without one (the completed invoices never
        # give it: _psa_complete_line_amounts): today, in the user's time zone
        today = fields.Date.context_today(self)
        if not term:
            due_dates = [(today, untaxed + tax)]
        else:
            terms = term._compute_terms(
                date_ref=fields.Date.to_date(invoice_vals.get("invoice_date") or invoice_vals.get("date")) or today,
                currency=currency,
                company=company,
                tax_amount=tax,
                tax_amount_currency=tax,
                sign=1,
                untaxed_amount=untaxed,
                untaxed_amount_currency=untaxed,
                cash_rounding=None,
            )
            amounts = defaultdict(float)
            for term_line in terms["line_ids"]:
                amounts[fields.Date.to_date(term_line["date"])] += term_line["company_amount"]
            due_dates = list(amounts.items())
        return [
            {
                "display_type": "payment_term",
                "date_maturity": date_maturity,
                "discount_date": False,
                "balance": amount,
                "amount_currency": amount,
                "discount_balance": 0.0,
                "discount_amount_currency": 0.0,
            }
            for date_maturity, amount in due_dates
        ]

    @api.model
    def _psa_set_command_ids(self, commands):
        """The ids of a many2many value made of one ``Command.set`` (else ``None``: not known here)."""
        if commands and len(commands) == 1 and commands[0][0] == Command.SET:
            return list(commands[0][2])
        return None

    def _psa_link_timesheets(self, plans):
        """Link the billed time entries to their invoice in one statement, once it is posted, and
        mark the time of posted invoices invoiced, as posting does for the time it finds linked.

        What the ORM would recompute on the time entries (partner, project of time not billed
        yet) does not apply to billed time, so only the caches are told. Linked before posting,
        the time of each invoice would be recomputed when posting changes the invoice's state
        (its partner, project, order line, invoice type: the same values again, for billed time).

        The link and the "invoiced" state are one ``UPDATE``: this runs after the invoices took their
        numbers, while the journal's numbering is held for the rest of the transaction (other batches
        wait for it), and each statement on a time entry writes a new version of its row and of every
        index on it (measured: two statements cost about 70 ms per 25 invoices, one about half).
        When an extension releases other states than approved and invoiced (``_psa_released_states``),
        the state moves through ``_psa_set_invoiced`` (the ORM) instead.
        """
        timesheet_ids, move_ids = [], []
        for plan in plans:
            timesheet_ids.extend(plan["timesheet_ids"])
            move_ids.extend([plan["move"].id] * len(plan["timesheet_ids"]))
        if not timesheet_ids:
            return
        timesheets = self.env["account.analytic.line"].sudo().browse(timesheet_ids)
        moves = self.env["account.move"].browse(set(move_ids))
        posted = {move.id for move in moves if move.state == "posted" and move.move_type == "out_invoice"}
        in_one_statement = {"approved", "invoiced"} <= set(timesheets._psa_released_states())
        invoiced = [move_id in posted and in_one_statement for move_id in move_ids]
        timesheets.flush_recordset(["timesheet_invoice_id", "psa_approval_state"])
        self.env.cr.execute(
            SQL(
                """
                UPDATE account_analytic_line line
                   SET timesheet_invoice_id = link.move_id,
                       psa_approval_state = CASE
                           WHEN link.invoiced AND line.psa_approval_state = 'approved' THEN 'invoiced'
                           ELSE line.psa_approval_state END,
                       write_uid = %s, write_date = NOW() AT TIME ZONE 'UTC'
                  FROM (SELECT unnest(%s::int[]) AS id, unnest(%s::int[]) AS move_id,
                               unnest(%s::bool[]) AS invoiced) link
                 WHERE line.id = link.id
                """,
                self.env.uid,
                timesheet_ids,
                move_ids,
                invoiced,
            )
        )
        timesheets.invalidate_recordset(["timesheet_invoice_id", "psa_approval_state", "write_uid", "write_date"])
        moves.invalidate_recordset(["timesheet_ids"])
        if posted and not in_one_statement:
            timesheets.browse(
                [ts_id for ts_id, move_id in zip(timesheet_ids, move_ids, strict=True) if move_id in posted]
            )._psa_set_invoiced(True)

    def _psa_posting_context(self, moves):
        """The context of ticking "Checked" and posting the batch's invoices.

        Their lines were given or synchronised when they were created (tax and payment-term lines,
        balances). Ticking "Checked" and posting change nothing those lines depend on for an invoice in
        its company's currency (rate 1: even a new accounting date changes no amount), so Odoo's line
        synchronisation is skipped for those invoices only (``account.move._sync_dynamic_lines``,
        ``psa_synced_move_ids``): any other move created or written while posting (an intercompany
        mirror bill) is synchronised as usual, and the balance of every move is still checked.
        """
        synced = moves.filtered(lambda move: move.currency_id == move.company_id.currency_id)
        return {
            **self._psa_move_context(),
            "psa_skip_unchanged_checked": True,
            "psa_synced_move_ids": frozenset(synced.ids),
        }

    def _psa_check_before_post(self, moves):
        """Tick "Checked" for the whole batch, as posting will on journals that check on post.

        Posting ticks it invoice by invoice, and each of those writes synchronises the invoice's
        lines again (about half of what posting a batch costs). Ticked here in one write, tracked the
        same way, those writes change nothing and ``account.move.write`` skips them (context key
        ``psa_skip_unchanged_checked``).
        """
        moves.filtered(lambda move: move.journal_id.autocheck_on_post and not move.checked).write({"checked": True})

    def _psa_subscribe_customers(self, moves):
        """Make each invoice's customer a follower before posting, in one insert for the batch.

        Posting does the same invoice by invoice (several queries each); the subtypes are Odoo's
        defaults for a customer, exactly as posting would choose them.
        """
        wanted = {(move.id, move.partner_id.id) for move in moves if move.partner_id.active}
        if not wanted:
            return
        partner_ids = list({partner_id for _move_id, partner_id in wanted})
        new, _update = (
            self.env["mail.followers"]
            .sudo()
            ._add_default_followers("account.move", list({move_id for move_id, _p in wanted}), partner_ids)
        )
        vals_list = [
            {**vals, "res_id": move_id}
            for move_id, follower_vals in new.items()
            for vals in follower_vals
            if (move_id, vals["partner_id"]) in wanted
        ]
        self.env["mail.followers"].sudo().create(vals_list)
        moves.invalidate_recordset(["message_follower_ids", "message_partner_ids"])

    def _psa_write_back(self, plans):
        """Mark the billed run lines invoiced, each with its invoice, in one statement."""
        line_ids, move_ids = [], []
        for plan in plans:
            line_ids.extend(plan["run_lines"].ids)
            move_ids.extend([plan["move"].id] * len(plan["run_lines"]))
        if not line_ids:
            return
        lines = self.env["psa.billing.run.line"].browse(line_ids)
        lines.flush_recordset()
        self.env.cr.execute(
            SQL(
                """
                UPDATE psa_billing_run_line line
                   SET state = 'invoiced', move_id = done.move_id, skip_reason = NULL,
                       write_uid = %s, write_date = NOW() AT TIME ZONE 'UTC'
                  FROM (SELECT unnest(%s::int[]) AS id, unnest(%s::int[]) AS move_id) done
                 WHERE line.id = done.id
                """,
                self.env.uid,
                line_ids,
                move_ids,
            )
        )
        lines.invalidate_recordset(["state", "move_id", "skip_reason", "write_uid", "write_date"])
        self.invalidate_recordset()

    def _psa_attach_receipts(self, move, attachment_ids):
        """Copy the expense receipts onto the invoice; they also go with the email that sends it."""
        copies = self.env["ir.attachment"]
        for receipt in self.env["ir.attachment"].sudo().browse(attachment_ids):
            copies |= receipt.copy({"res_model": "account.move", "res_id": move.id})
        move.psa_receipt_attachment_ids = [Command.link(copy_.id) for copy_ in copies]

    # ------------------------------------------------------------------------------------------
    # What to bill (shared by the preview and the confirm, so both give the same totals)
    # ------------------------------------------------------------------------------------------
    def _psa_customer_domain(self, field, agreement_cadence_field=None):
        """The domain on ``field`` (a commercial partner) of the customers this run bills: those it
        names, if any, on the run's cadence (``_psa_get_cadence_domain``)."""
        customer_ids = self._psa_customer_ids()
        domain = [(field, "in", customer_ids)] if customer_ids is not None else []
        return expression.AND([domain, self._psa_get_cadence_domain(field, agreement_cadence_field)])

    def _psa_customer_ids(self):
        """The commercial partners (ids) whose sources this collection looks at, or ``None`` for every
        customer: those of the customers the run names, or, when a batch collects again
        (``psa_collect_customer_ids`` in the context, see ``_psa_batch_customer_ids``), the batch's own."""
        self.ensure_one()
        if "psa_collect_customer_ids" in self.env.context:
            customer_ids = self.env.context["psa_collect_customer_ids"]
            return None if customer_ids is None else list(customer_ids)
        return self.partner_ids.commercial_partner_id.ids if self.partner_ids else None

    def _psa_batch_customer_ids(self, run_lines):
        """The customers a batch of ``run_lines`` collects again: those of its lines the run still names, or
        ``None`` when the run names none (every customer).

        A batch reads its own few customers, never the run's whole list: 10,000 customers read by each of
        400 batches made a large run's cost per invoice grow with its size.
        """
        self.ensure_one()
        batch = set(run_lines.partner_id.commercial_partner_id.ids)
        field = self._fields["partner_ids"]
        self.flush_recordset(["partner_ids"])
        names = {"rel": SQL.identifier(field.relation), "run": SQL.identifier(field.column1), "run_id": self.id}
        rows = self.env.execute_query(
            SQL(
                """
                SELECT p.commercial_partner_id FROM %(rel)s rel JOIN res_partner p ON p.id = rel.%(partner)s
                 WHERE rel.%(run)s = %(run_id)s AND p.commercial_partner_id = ANY(%(batch)s) AND p.active
                """,
                partner=SQL.identifier(field.column2),
                batch=list(batch),
                **names,
            )
        )
        if rows:
            return sorted(batch & {commercial_id for (commercial_id,) in rows})
        # none of the batch's customers is named: the run names others (nothing of theirs), or none (all)
        [(names_some,)] = self.env.execute_query(
            SQL("SELECT EXISTS(SELECT 1 FROM %(rel)s WHERE %(run)s = %(run_id)s)", **names)
        )
        return [] if names_some else None

    def _psa_get_cadence_domain(self, field, agreement_cadence_field=None):
        """Hook for extensions: the domain on ``field`` (a commercial partner) of the customers billed
        at this run's cadence. A run created by a person (``manual``) bills them all.

        A customer without a cadence of its own follows the company's (*Billing run frequency*). With
        ``agreement_cadence_field`` (an agreement's ``psa_billing_cadence``), an agreement with a cadence
        of its own follows it, the others their customer's.
        """
        self.ensure_one()
        if self.cadence == "manual":
            return []
        cadence_field = f"{field}.psa_billing_cadence"
        partner_domain = [(cadence_field, "=", self.cadence)]
        if self.company_id.psa_billing_run_frequency == self.cadence:
            partner_domain = expression.OR([partner_domain, [(cadence_field, "=", False)]])
        if not agreement_cadence_field:
            return partner_domain
        return expression.OR(
            [
                [(agreement_cadence_field, "=", self.cadence)],
                expression.AND([[(agreement_cadence_field, "=", False)], partner_domain]),
            ]
        )

    def _psa_partners_on_cadence(self, partners):
        """The commercial partners among ``partners`` this run's cadence bills (in Python, for the
        sources that cannot say it in their domain)."""
        self.ensure_one()
        partners = partners.commercial_partner_id
        if self.cadence == "manual":
            return partners
        default = self.company_id.psa_billing_run_frequency
        return partners.filtered(lambda partner: (partner.psa_billing_cadence or default) == self.cadence)

    def _psa_billing_sources(self):
        """The models the run bills (those inheriting ``psa.billable.mixin``), in their
        ``_psa_billing_sequence`` order."""
        names = self.env.registry.descendants(["psa.billable.mixin"], "_inherit") - {"psa.billable.mixin"}
        sources = [self.env[name] for name in names if not self.env[name]._abstract]
        return sorted(sources, key=lambda source: (source._psa_billing_sequence, source._name))

    def _psa_collect(self, run_lines=None):
        """Everything this run would bill or skip, as ``BillableItem`` values.

        For a preview every source says what it bills up to the period end; at the confirm
        (``run_lines``) only the sources of those run lines are looked at again.
        """
        self.ensure_one()
        items = []
        sources = self._psa_billing_sources()
        run = self
        if run_lines is not None:
            # a batch looks at its own customers only (``_psa_customer_ids``)
            customer_ids = self._psa_batch_customer_ids(run_lines)
            run = self.with_context(psa_collect_customer_ids=None if customer_ids is None else tuple(customer_ids))
        for source in sources:
            items += source._psa_collect_billable(run, run_lines)
        self._psa_apply_skip_rules(items, sources)
        if run_lines is None:
            items += self._psa_collect_nothing_to_bill(items)
        return items

    def _psa_collect_nothing_to_bill(self, items):
        """Customers chosen on the run with nothing at all to bill are listed with that reason."""
        if not self.partner_ids:
            return []
        seen = {item.partner_id for item in items}
        return [
            BillableItem(
                kind="skip",
                state="skipped",
                company_id=self.company_id.id,
                partner_id=partner.id,
                name=partner.display_name,
                currency_id=self.currency_id.id,
                skip_reason=self.env._("nothing to bill up to %(date)s", date=self.period_end),
            )
            for partner in self.env["res.partner"].browse(self._psa_customer_ids())
            if partner.id not in seen
        ]

    def _psa_apply_skip_rules(self, items, sources):
        """Turn into skips what may not be billed (already billed, customer on hold, invoices of 0.00,
        PO rules), after the sources completed what depends on the rest (down payments).

        Order lines get their invoice line values only when they are billed (``_psa_invoice_line_vals``):
        a preview does not need them, and an order line Odoo cannot invoice (no income account...)
        then fails its own customer at the confirm, with the reason, instead of the whole preview.
        """
        self._psa_skip_already_billed(items)
        self._psa_apply_once_a_day_rule(items)
        for item in items:
            if not item.billable:
                continue
            reason = self._psa_get_skip_reason(item)
            if reason:
                item.skip(reason)
        completed = []
        for source in sources:
            completed += source._psa_complete_billable(self, items)
        self._psa_skip_already_billed(completed)
        items += completed
        self._psa_apply_zero_total_rule(items)
        self._psa_apply_po_rules(items)

    def _psa_apply_zero_total_rule(self, items):
        """No invoice of 0.00: per the company's setting (*Invoices of 0.00*) the lines of 0.00 are
        skipped for good, and a group whose total is 0.00 waits for an invoice with something to pay."""
        bill = [item for item in items if item.billable]
        if not bill:
            return
        policies = {
            company.id: company.psa_billing_zero_total
            for company in self.env["res.company"].browse({item.company_id for item in bill})
        }
        for item in bill:
            currency = self.env["res.currency"].browse(item.currency_id)
            if policies[item.company_id] == "skip" and currency.is_zero(item.amount):
                item.skip(self._psa_zero_total_reason("skip"))
        for _group_key, group in groupby([item for item in items if item.billable], key=lambda item: item.group_key):
            currency = self.env["res.currency"].browse(group[0].currency_id)
            if currency.is_zero(sum(item.amount for item in group)):
                reason = self._psa_zero_total_reason("keep")
                for item in group:
                    item.skip(reason)

    def _psa_apply_once_a_day_rule(self, items):
        """As you go, one invoice per customer and day at most: a customer an earlier as-you-go run
        invoiced on this run's invoice date waits for the first as-you-go run of the next day.

        The day's invoice is posted (and may be charged) already, so nothing is added to it; what was
        released since goes on the next day's invoice, said on the run line.
        """
        if self.cadence != "as_you_go":
            return
        partner_ids = {item.partner_id for item in items if item.billable}
        if not partner_ids:
            return
        rows = self.env["psa.billing.run.line"]._read_group(
            [
                ("run_id.cadence", "=", "as_you_go"),
                ("run_id.invoice_date", "=", self.invoice_date),
                ("run_id", "!=", self.id),
                ("company_id", "in", self.company_ids.ids),
                ("state", "=", "invoiced"),
                ("partner_id", "in", list(partner_ids)),
            ],
            ["partner_id"],
            ["move_id:recordset"],
        )
        invoiced_today = {partner.id: moves for partner, moves in rows}
        for item in items:
            moves = invoiced_today.get(item.partner_id)
            if item.billable and moves:
                item.skip(
                    self.env._(
                        "as you go: already invoiced today on %(invoice)s (one invoice per customer and day), "
                        "billed by the first as-you-go run after %(date)s",
                        invoice=", ".join(moves.mapped("name")),
                        date=self.invoice_date,
                    )
                )

    def _psa_zero_total_reason(self, policy):
        if policy == "skip":
            return self.env._("0.00: nothing to pay, not invoiced (setting: skip the 0.00 lines)")
        return self.env._("the invoice would total 0.00: kept for the next invoice with something to pay")

    def _psa_skip_already_billed(self, items):
        """Skip what an exactly-once key says is billed already, in the preview as at the confirm
        (e.g. an order line Odoo counts as credited by a credit note still in draft)."""
        taken = self.env["psa.billing.key"]._psa_existing([key for item in items if item.billable for key in item.keys])
        for item in items:
            billed_on = [taken[key] for key in item.keys if key in taken] if item.billable else []
            if billed_on:
                item.skip(self.env._("already billed on %(invoice)s", invoice=billed_on[0] or "?"))

    def _psa_prefetch_invoice_lines(self, plans):
        """Look up for the whole batch what preparing each order line's invoice line would look up line by
        line: the analytic distribution from the order line's project (``item.analytic_distribution``)."""
        pending = [(line, item) for plan in plans for line, item in plan["billable"] if item.invoice_line_vals is None]
        run_lines = self.env["psa.billing.run.line"].union(*[line for line, _item in pending])
        distributions = run_lines.sale_line_id._psa_project_analytic_distributions()
        for line, item in pending:
            item.analytic_distribution = distributions.get(line.sale_line_id.id)

    def _psa_invoice_line_vals(self, run_line, item):
        """The invoice line of one billed source: given by the source (agreements, sources without an
        order) or prepared from its order line now."""
        if item.invoice_line_vals is None:
            item.invoice_line_vals = self._prepare_billing_invoice_line_vals(run_line.sale_line_id, item)
        return item.invoice_line_vals

    def _prepare_billing_invoice_line_vals(self, sale_line, item):
        """Hook for extensions: the invoice line of one billed order line."""
        optional_values = {"quantity": item.quantity, "psa_billing_explanation": item.explanation}
        if item.analytic_distribution:
            # what sale_project would look up for this line alone (see _psa_prefetch_invoice_lines)
            optional_values["analytic_distribution"] = item.analytic_distribution
        return sale_line._prepare_invoice_line(**optional_values)

    def _psa_get_skip_reason(self, item):
        """Hook for extensions: why a billable ``BillableItem`` must not be billed now (or ``False``).

        Customer on hold here; the purchase-order rules apply to whole invoices
        (``_psa_apply_po_rules``).
        """
        partner = self.env["res.partner"].browse(item.partner_id)
        if partner.psa_billing_hold:
            return self.env._(
                "customer on hold: %(reason)s", reason=partner.psa_billing_hold_reason or self.env._("no reason given")
            )
        return False

    # ------------------------------------------------------------------------------------------
    # Demo data
    # ------------------------------------------------------------------------------------------
    @api.model
    def _psa_demo_catch_up(self):
        """Demo data only, called last by the demo of each add-on (whichever is installed last wins).

        Releases the sample time of the add-ons installed since (``_psa_demo_release_sample_time``), does at
        install what the crons would do at the first start (approve by the rules, release the due
        milestones, remind people), then previews again the previewed runs whose sources changed since
        (the RMM demo's charges, the approvals): a fresh demo opens with an up-to-date preview, and the
        first cron runs change nothing in it. Nothing commits: the whole install stays one transaction.
        """
        lines = self.env["account.analytic.line"].sudo()
        # sample time of Odoo or OCA add-ons installed since (helpdesk_mgmt_timesheet's, before psa_rmm)
        lines._psa_demo_release_sample_time()
        rules = self.env["psa.approval.rule"].sudo().search([])
        for company in rules.company_id:
            company_rules = rules.filtered(lambda rule, company=company: rule.company_id == company)
            waiting = lines.with_company(company).search(rules._get_auto_approve_domain(company, company_rules))
            waiting._psa_apply_rules(company_rules)
        milestones = self.env["project.milestone"].sudo()
        milestones.search(milestones._get_due_release_domain())._psa_release()
        runs = self.sudo().search([("state", "=", "previewed")])
        runs.action_check_preview()
        stale = runs.filtered("preview_stale_count")
        stale.action_preview()
        # checked now: the banner says "no change since the preview" from the first screen on (the other
        # runs were checked just above)
        stale.action_check_preview()
        self.env["psa.approval.rule"]._psa_remind_waiting_time()
        self._psa_remind_to_confirm(every_run=True)
        return True

    # ------------------------------------------------------------------------------------------
    # Crons: one run per company and period, monthly or weekly per company
    # ------------------------------------------------------------------------------------------
    @api.model
    def _cron_create_weekly_runs(self, batch_size=50):
        """Create (once per company and week) the run up to last Sunday and preview it, for the
        companies billing weekly."""
        today = fields.Date.context_today(self)
        self._psa_create_periodic_runs("weekly", today - timedelta(days=today.weekday() + 1))

    @api.model
    def _get_periodic_run_companies_domain(self, frequency):
        """Hook for extensions: the companies whose run the ``frequency`` cron creates: those billing
        at that cadence by default, and those with customers or agreements billed at it."""
        # counted for the cron, over every company: which companies need a run, nothing else is read
        partners = self.env["res.partner"].sudo().with_context(active_test=False)
        contracts = self.env["contract.contract"].sudo()
        shared = partners.search_count([("psa_billing_cadence", "=", frequency), ("company_id", "=", False)], limit=1)
        if shared:
            # a customer shared by every company is billed by each of them at its cadence
            return []
        company_ids = {
            company.id
            for model in (partners, contracts)
            for (company,) in model._read_group([("psa_billing_cadence", "=", frequency)], ["company_id"])
        }
        return expression.OR([[("psa_billing_run_frequency", "=", frequency)], [("id", "in", list(company_ids))]])

    @api.model
    def _prepare_periodic_run_vals(self, company, frequency, period_end, mode):
        """Hook for extensions: the values of the run the ``frequency`` cron creates for ``company``.

        The run sends the invoices it posts when the company says so (*Send invoices of automatic
        runs*); posting follows the run's default.
        """
        vals = {
            "company_id": company.id,
            "company_ids": [Command.set(company.ids)],
            "cadence": frequency,
            "period_end": period_end,
            "mode": mode,
            "send_invoices": company.psa_billing_run_send_invoices,
        }
        if frequency == "as_you_go":
            # nobody confirms an as-you-go run, and its customer gets one invoice a day
            vals.update({"mode": "automatic", "grouping": "customer", "invoice_date": period_end})
        return vals

    @api.model
    def _psa_create_periodic_runs(self, frequency, period_end):
        """Create and preview one run per company (billing at ``frequency``) up to ``period_end``.

        Idempotent: a company that already has a run for that period end gets no second one, so
        a rerun after a crash creates only the missing runs. Automatic runs are then invoiced by
        the worker cron.
        """
        mode = self.env["ir.config_parameter"].sudo().get_param("psa_timesheet_billing.monthly_run_mode", "preview")
        mode = mode if mode in ("preview", "automatic") else "preview"
        companies = self.env["res.company"].sudo().search(self._get_periodic_run_companies_domain(frequency))
        existing = self.sudo().search(
            [
                ("period_end", "=", period_end),
                ("company_id", "in", companies.ids),
                ("partner_ids", "=", False),
                # a weekly run ending on the last day of a month is no monthly run
                ("cadence", "in", ("manual", frequency)),
            ]
        )
        todo = companies - existing.company_id
        for done, company in enumerate(todo, start=1):
            run = (
                self.sudo()
                .with_company(company)
                .create(self._prepare_periodic_run_vals(company, frequency, period_end, mode))
            )
            run.action_preview()
            if run.mode == "automatic":
                run._psa_start()
            run.message_post(
                body=self.env._(
                    "Created by the %(frequency)s billing cron (%(mode)s), period up to %(date)s; invoices "
                    "%(sending)s (company setting).",
                    frequency=dict(BILLING_CADENCES)[frequency].lower(),
                    mode=run.mode,
                    date=period_end,
                    sending=self.env._("sent by email") if run.send_invoices else self.env._("not sent"),
                )
            )
            self.env["ir.cron"]._notify_progress(done=done, remaining=len(todo) - done)
            self._psa_commit()

    @api.model
    def _cron_bill_as_you_go(self, batch_size=50):
        """Bill the customers (and agreements) billed as you go: what was released up to today, in one
        automatic run per company and cycle that has something to bill, invoiced in the same cycle.

        One invoice per customer and day (``_psa_apply_once_a_day_rule``). Idempotent: what a run
        billed is keyed (a rerun finds nothing new), a company whose as-you-go run is still
        unfinished (a crash) has it resumed instead of a second one created, and a cycle with
        nothing to bill leaves no run behind.
        """
        today = fields.Date.context_today(self)
        companies = self.env["res.company"].sudo().search(self._get_periodic_run_companies_domain("as_you_go"))
        # the cron works for every company, as the monthly and weekly ones do; nothing is shown to anyone
        unfinished = self.sudo().search(
            [
                ("cadence", "=", "as_you_go"),
                ("company_id", "in", companies.ids),
                ("state", "in", ("previewed", "running")),
            ]
        )
        for done, company in enumerate(companies, start=1):
            runs = unfinished.filtered(lambda run, company=company: run.company_id == company)
            if not runs:
                runs = self._psa_create_as_you_go_run(company, today)
            for run in runs.with_company(company):
                if run.state == "previewed":
                    run._psa_start()
                run._psa_process(batch_size=batch_size)
            self.env["ir.cron"]._notify_progress(done=done, remaining=len(companies) - done)

    @api.model
    def _psa_create_as_you_go_run(self, company, today):
        """The as-you-go run of ``company`` for this cycle, previewed and started, or nothing when
        there is nothing to bill (the run is then not kept: an hourly cron leaves no empty runs)."""
        # created by the cron for the company, as the monthly and weekly runs are (psa_create_periodic_runs)
        run = (
            self.sudo()
            .with_company(company)
            .with_context(mail_create_nolog=True, mail_notrack=True)
            .create(self._prepare_periodic_run_vals(company, "as_you_go", today, "automatic"))
        )
        run.action_preview()
        if not run.line_ids.filtered(lambda line: line.kind == "bill"):
            run.unlink()
            return self.browse()
        run._psa_start()
        run.message_post(
            body=self.env._(
                "Created by the as-you-go billing cron (automatic): released up to %(date)s, one invoice per "
                "customer and day; invoices %(sending)s (company setting).",
                date=today,
                sending=self.env._("sent by email") if run.send_invoices else self.env._("not sent"),
            )
        )
        # no commit before its first batch is invoiced: the worker cron must not pick up a run this cron
        # is about to process (a crash before that rolls it all back, the next cycle starts again)
        return run

    # ------------------------------------------------------------------------------------------
    # Sources without an order: their invoice and its group
    # ------------------------------------------------------------------------------------------
    def _psa_generic_invoice_vals(self, partner, company, currency, origin):
        """Hook for extensions: the invoice header of a group made of generic sources only."""
        partner = partner.commercial_partner_id
        invoice_partner = self.env["res.partner"].browse(partner.address_get(["invoice"])["invoice"])
        fiscal_position = (
            self.env["account.fiscal.position"].with_company(company)._get_fiscal_position(invoice_partner)
        )
        return {
            "move_type": "out_invoice",
            "partner_id": invoice_partner.id,
            "company_id": company.id,
            "currency_id": currency.id,
            "fiscal_position_id": fiscal_position.id,
            "invoice_origin": origin,
            "invoice_payment_term_id": partner.with_company(company).property_payment_term_id.id,
        }

    def _psa_generic_group_key(self, partner, company, currency):
        """The invoice group of a generic source: with the customer's other lines when grouping per
        customer, else one invoice per customer for such sources."""
        partner = partner.commercial_partner_id
        invoice_partner_id = partner.address_get(["invoice"])["invoice"]
        return source_group_key(self.grouping, company.id, invoice_partner_id, currency.id)

    # ------------------------------------------------------------------------------------------
    # Purchase-order rules: what posting would refuse is skipped at the preview
    # ------------------------------------------------------------------------------------------
    def _psa_apply_po_rules(self, items):
        """Skip the invoices (groups) their customer's purchase-order policy would refuse at posting.

        The check is psa_orders' own (``psa.customer.po._psa_check_documents``) on the invoice the
        group will become: its untaxed amount, the PO references it will carry, the invoice date.
        Groups of the same run billing the same PO count against its cap one after another.
        """
        bill = [item for item in items if item.billable]
        governed = self._psa_po_governed_partners({item.partner_id for item in bill})
        bill = [item for item in bill if item.partner_id in governed]
        consumed_in_run = defaultdict(float)
        for _group_key, group in groupby(bill, key=lambda item: item.group_key):
            reason = self._psa_get_po_skip_reason(group, consumed_in_run)
            if reason:
                for item in group:
                    item.skip(reason)

    @api.model
    def _psa_po_governed_partners(self, partner_ids):
        """The ids among ``partner_ids`` (commercial partners) a PO rule can apply to: a policy other than
        *never*, or a registered PO. Two queries, so that runs for customers without PO rules pay nothing."""
        if not partner_ids:
            return set()
        partners = self.env["res.partner"].sudo().browse(list(partner_ids))
        governed = {partner.id for partner in partners if (partner.psa_po_policy or "never") != "never"}
        pos = self.env["psa.customer.po"].sudo()._read_group([("partner_id", "in", partners.ids)], ["partner_id"])
        return governed | {partner.id for (partner,) in pos}

    def _psa_get_po_skip_reason(self, group, consumed_in_run):
        """Hook for extensions: why the invoice of ``group`` (run-line values) would be refused at
        posting for a purchase-order rule, in psa_orders' words, or ``False``.

        ``consumed_in_run`` (``{(partner, reference, company): amount}``) collects what earlier
        groups of this run bill under each PO; it is updated when the group passes.
        """
        first = group[0]
        company = self.env["res.company"].browse(first.company_id)
        partner = self.env["res.partner"].browse(first.partner_id).commercial_partner_id
        orders = self.env["sale.order"].browse(list(dict.fromkeys(item.order_id for item in group if item.order_id)))
        references = []
        for item in group:
            references += po_rules.split_references((item.invoice_vals or {}).get("ref"))
        references += [(order.client_order_ref or "").strip() for order in orders]
        references = [reference for reference in dict.fromkeys(references) if reference]
        amount = sum(
            self.env["res.currency"]
            .browse(item.currency_id)
            ._convert(item.amount, company.currency_id, company, self.invoice_date)
            for item in group
        )
        in_run_key = (partner.id, references[0], company.id) if len(references) == 1 else None
        document = (
            orders[:1]
            or self.env["contract.contract"].browse(first.contract_id)
            or self.env["account.move"].new(
                {"move_type": "out_invoice", "partner_id": partner.id, "company_id": company.id}
            )
        )
        check = {
            "document": document,
            "partner": partner,
            "company": company,
            "references": references,
            # earlier invoices of this run under the same PO are not posted yet at the preview
            "amount": amount + (consumed_in_run[in_run_key] if in_run_key else 0.0),
            "date": self.invoice_date,
        }
        try:
            self.env["psa.customer.po"]._psa_check_documents([check], self.env["account.move"])
        except UserError as error:
            return error.args[0]
        if in_run_key:
            consumed_in_run[in_run_key] += amount
        return False
