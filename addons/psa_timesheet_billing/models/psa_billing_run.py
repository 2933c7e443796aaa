import copy
import logging
import threading
from collections import defaultdict
from datetime import datetime, time, timedelta

from markupsafe import Markup

from odoo import Command, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, float_compare, format_amount, groupby

from ..tools.billing_run import billing_key, chunked, invoice_group_key, quantity_watermark

_logger = logging.getLogger(__name__)

RUN_STATES = [
    ("draft", "Draft"),
    ("previewed", "Previewed"),
    ("running", "Running"),
    ("done", "Done"),
    ("failed", "Done with failures"),
]


class PsaBillingRunError(Exception):
    """A group (one future invoice) could not be billed; the message says why."""


class PsaBillingRun(models.Model):
    """A bulk billing run: everything invoiceable up to a period end, previewed, then invoiced once."""

    _name = "psa.billing.run"
    _inherit = ["mail.thread"]
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
    line_ids = fields.One2many("psa.billing.run.line", "run_id", string="Lines", copy=False)
    progress_done = fields.Integer(readonly=True, copy=False, help="Invoices (groups) handled so far.")
    progress_total = fields.Integer(readonly=True, copy=False, help="Invoices (groups) this run has to handle.")
    progress = fields.Float(compute="_compute_progress")
    currency_id = fields.Many2one(related="company_id.currency_id")
    amount_to_bill = fields.Monetary(compute="_compute_totals", string="To Bill (untaxed)")
    amount_billed = fields.Monetary(compute="_compute_totals", string="Billed (untaxed)")
    skipped_count = fields.Integer(compute="_compute_totals")
    failed_count = fields.Integer(compute="_compute_totals")
    invoice_ids = fields.Many2many("account.move", compute="_compute_totals", string="Invoices")
    invoice_count = fields.Integer(compute="_compute_totals")
    summary = fields.Html(compute="_compute_totals", sanitize=False, help="Per customer: to bill, skipped, failed.")

    @api.depends("period_end")
    def _compute_name(self):
        for run in self:
            run.name = self.env._("Billing run up to %(date)s", date=run.period_end or "")

    @api.depends("progress_done", "progress_total")
    def _compute_progress(self):
        for run in self:
            run.progress = 100.0 * run.progress_done / run.progress_total if run.progress_total else 0.0

    @api.depends("line_ids.state", "line_ids.amount", "line_ids.move_id")
    def _compute_totals(self):
        for run in self:
            lines = run.line_ids
            billed = lines.filtered(lambda line: line.state == "invoiced")
            run.amount_to_bill = sum(lines.filtered(lambda line: line.kind == "bill").mapped("amount"))
            run.amount_billed = sum(billed.mapped("amount"))
            run.skipped_count = len(lines.filtered(lambda line: line.state == "skipped"))
            run.failed_count = len(lines.filtered(lambda line: line.state == "failed"))
            run.invoice_ids = billed.move_id
            run.invoice_count = len(billed.move_id)
            run.summary = run._psa_summary_html(lines)

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
            run.line_ids.unlink()
            vals_list = run._psa_collect()
            for vals in vals_list:
                for private in [key for key in vals if key.startswith("_")]:
                    del vals[private]
                vals["run_id"] = run.id
            self.env["psa.billing.run.line"].create(vals_list)
            run.state = "previewed"
            run.message_post(
                body=self.env._(
                    "Preview: %(bill)s line(s) to bill for %(amount)s, %(skip)s skipped.",
                    bill=len(run.line_ids.filtered(lambda line: line.kind == "bill")),
                    amount=format_amount(self.env, run.amount_to_bill, run.currency_id),
                    skip=len(run.line_ids.filtered(lambda line: line.kind == "skip")),
                )
            )
        return True

    def action_reset_to_draft(self):
        for run in self:
            if run.state != "previewed":
                raise UserError(self.env._("Only a previewed run can go back to draft (run %(run)s).", run=run.name))
        self.line_ids.unlink()
        self.write({"state": "draft"})
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
        return True

    def action_view_invoices(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("account.action_move_out_invoice_type")
        action["domain"] = [("id", "in", self.invoice_ids.ids)]
        action["context"] = {"create": False}
        return action

    def _psa_batch_size(self):
        return int(self.env["ir.config_parameter"].sudo().get_param("psa_timesheet_billing.run_batch_size", 50))

    def _psa_start(self):
        """Move to running; failed lines of an earlier attempt are tried again."""
        self.ensure_one()
        self.line_ids.filtered(lambda line: line.state == "failed").write({"state": "pending", "skip_reason": False})
        pending = self.line_ids.filtered(lambda line: line.state == "pending" and line.kind == "bill")
        self.write(
            {
                "state": "running",
                "progress_total": len(set(pending.mapped("group_key"))),
                "progress_done": 0,
            }
        )

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
        """Resume every run in ``running`` (after a confirm, a crash or an automatic creation)."""
        for run in self.sudo().search([("state", "=", "running")], order="id"):
            run.with_company(run.company_id)._psa_process(batch_size=batch_size)

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
        """Bill the pending groups, ``batch_size`` invoices per transaction.

        Each batch commits (outside tests) together with its exactly-once keys, so a crash leaves
        the run in ``running`` and the next call resumes where it stopped.

        Each batch works on records browsed for that batch only and the cache is emptied after
        it: a batch then costs the same whether it is the first or the fiftieth of a run (the
        ORM otherwise prefetches and re-checks the records of every earlier batch).
        """
        self.ensure_one()
        groups = self._psa_pending_groups()
        for chunk in chunked(groups, max(batch_size, 1)):
            chunk_lines = self.env["psa.billing.run.line"].browse(
                sorted(line_id for _group_key, line_ids in chunk for line_id in line_ids)
            )
            self._psa_bill_groups(chunk_lines)
            self.progress_done = min(self.progress_done + len(chunk), self.progress_total)
            self.env["ir.cron"]._notify_progress(
                done=self.progress_done, remaining=max(self.progress_total - self.progress_done, 0)
            )
            self._psa_commit()
            self.env.flush_all()
            self.env.invalidate_all()
            self._psa_after_batch()
        failed = self.line_ids.filtered(lambda line: line.state == "failed")
        self.state = "failed" if failed else "done"
        self.message_post(
            body=self.env._(
                "Run finished: %(invoices)s invoice(s) for %(amount)s; %(skipped)s line(s) skipped, "
                "%(failed)s failed.",
                invoices=self.invoice_count,
                amount=format_amount(self.env, self.amount_billed, self.currency_id),
                skipped=self.skipped_count,
                failed=len(failed),
            )
        )
        self._psa_commit()

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
        fresh = self._psa_collect(
            sale_lines=run_lines.sale_line_id,
            contract_lines=run_lines.contract_line_id,
            only_sources=True,
            # generic sources (other add-ons) are collected again together with the rest of their groups
            extra_sources=self._psa_extra_sources_of(run_lines),
        )
        fresh_by_source = {self._psa_source_ref(vals): vals for vals in fresh}
        plans = self._psa_plan_groups(run_lines, fresh_by_source)
        try:
            with self.env.cr.savepoint():
                self._psa_invoice_plans(plans)
            return
        except Exception:  # noqa: BLE001 - find the failing customer(s), then bill the others one by one
            _logger.info("billing run %s: batch failed, billing its groups one by one", self.id)
        for plan in plans:
            try:
                with self.env.cr.savepoint():
                    self._psa_invoice_plans([plan])
            except Exception as exc:  # noqa: BLE001 - a failing customer is reported, the run goes on
                reason = str(exc.args[0] if getattr(exc, "args", None) else exc)
                plan["run_lines"].write({"state": "failed", "skip_reason": reason[:500]})
                self.message_post(
                    body=self.env._(
                        "Billing %(customer)s failed: %(reason)s", customer=plan["partner"].display_name, reason=reason
                    )
                )

    @api.model
    def _psa_source_ref(self, vals):
        """The ``(model, id)`` the values of a run line bill: a generic source, an agreement line
        or an order line."""
        if vals.get("source_model"):
            return (vals["source_model"], vals["source_res_id"])
        if vals.get("contract_line_id"):
            return ("contract.line", vals["contract_line_id"])
        return ("sale.order.line", vals.get("sale_line_id"))

    @api.model
    def _psa_line_source_ref(self, line):
        """``_psa_source_ref`` of a run line record."""
        return self._psa_source_ref(
            {
                "source_model": line.source_model,
                "source_res_id": line.source_res_id,
                "contract_line_id": line.contract_line_id.id,
                "sale_line_id": line.sale_line_id.id,
            }
        )

    def _psa_plan_groups(self, run_lines, fresh_by_source):
        """Match the previewed lines with what is billable now, one plan per future invoice.

        Only sources the preview listed are billed. A line no longer billable (billed meanwhile by
        another run, customer put on hold) is skipped with the reason; a line whose quantity grew
        (time approved since the preview) is billed with today's figures, written on the line.
        """
        plans = []
        for group_key, lines in groupby(run_lines, key=lambda line: line.group_key):
            lines = self.env["psa.billing.run.line"].union(*lines)
            billable = []
            for line in lines:
                vals = fresh_by_source.get(self._psa_line_source_ref(line))
                if not vals or vals["kind"] != "bill":
                    reason = (vals or {}).get("skip_reason") or self.env._("nothing left to bill (billed meanwhile)")
                    line.write({"state": "skipped", "skip_reason": reason})
                    continue
                if vals["group_key"] != group_key:
                    line.write({"state": "skipped", "skip_reason": self.env._("order changed since the preview")})
                    continue
                fresh = {"quantity": vals["quantity"], "amount": vals["amount"], "explanation": vals["explanation"]}
                if any(line[field] != value for field, value in fresh.items()):
                    line.write(fresh)  # what changed since the preview (e.g. more time approved)
                billable.append((line, vals))
            if billable:
                plans.append(self._psa_prepare_plan(billable))
        return plans

    def _psa_prepare_plan(self, billable):
        """Hook for extensions: the invoice values of one group ``[(run_line, fresh_vals), ...]``."""
        first_line, _first_vals = billable[0]
        contract_vals = [vals for _line, vals in billable if vals.get("contract_line_id")]
        orders = self.env["sale.order"].union(*[line.order_id for line, _vals in billable])
        if contract_vals or not orders:
            # agreements and generic sources bring their own invoice header
            invoice_vals = dict(next(vals for _line, vals in billable if vals.get("_invoice_vals"))["_invoice_vals"])
        else:
            invoice_vals = orders[0]._prepare_invoice()
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
            "keys": [key for _line, vals in billable for key in vals["_keys"]],
            "timesheet_ids": [ts_id for _line, vals in billable for ts_id in vals.get("_timesheet_ids", [])],
            "receipt_ids": [att_id for _line, vals in billable for att_id in vals.get("_receipt_ids", [])],
            "run_lines": self.env["psa.billing.run.line"].union(*[line for line, _vals in billable]),
            "contract_lines": self.env["contract.line"].union(*[line.contract_line_id for line, _vals in billable]),
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

        Everything is done for the whole batch at once: one ``create`` per company, one insert of
        the exactly-once keys, one statement linking the time entries, one ``_post``.
        """
        moves = self.env["account.move"]
        for company, company_plans in groupby(plans, key=lambda plan: plan["company"]):
            vals_list = []
            for plan in company_plans:
                invoice_vals = copy.deepcopy(plan["invoice_vals"])
                invoice_vals["invoice_line_ids"] = [
                    Command.create(self._psa_invoice_line_vals(line, vals)) for line, vals in plan["billable"]
                ]
                vals_list.append(invoice_vals)
            created = (
                self.env["account.move"]
                .with_company(company)
                .with_context(**self._psa_move_context())
                .create(vals_list)
            )
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
        self._psa_link_timesheets(plans)
        if self.post_invoices:
            self._psa_subscribe_customers(moves)
            self._psa_check_before_post(moves)
            moves.with_context(**self._psa_move_context(), psa_skip_unchanged_checked=True).action_post()
            if self.send_invoices:
                moves.sending_data = {
                    "author_user_id": self.env.user.id,
                    "author_partner_id": self.env.user.partner_id.id,
                }
        self._psa_write_back(plans)
        self.env.flush_all()
        if self.post_invoices and self.send_invoices:
            self.env.ref("account.ir_cron_account_move_send")._trigger()
        return moves

    def _psa_link_timesheets(self, plans):
        """Link the billed time entries to their invoice in one statement.

        What the ORM would recompute on the time entries (partner, project of time not billed
        yet) does not apply to billed time, so only the caches are told.
        """
        timesheet_ids, move_ids = [], []
        for plan in plans:
            timesheet_ids.extend(plan["timesheet_ids"])
            move_ids.extend([plan["move"].id] * len(plan["timesheet_ids"]))
        if not timesheet_ids:
            return
        timesheets = self.env["account.analytic.line"].sudo().browse(timesheet_ids)
        timesheets.flush_recordset(["timesheet_invoice_id"])
        self.env.cr.execute(
            SQL(
                """
                UPDATE account_analytic_line line
                   SET timesheet_invoice_id = link.move_id, write_uid = %s, write_date = NOW() AT TIME ZONE 'UTC'
                  FROM (SELECT unnest(%s::int[]) AS id, unnest(%s::int[]) AS move_id) link
                 WHERE line.id = link.id
                """,
                self.env.uid,
                timesheet_ids,
                move_ids,
            )
        )
        timesheets.invalidate_recordset(["timesheet_invoice_id", "write_uid", "write_date"])
        self.env["account.move"].browse(set(move_ids)).invalidate_recordset(["timesheet_ids"])

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
    def _psa_customer_domain(self, field):
        return [(field, "in", self.partner_ids.commercial_partner_id.ids)] if self.partner_ids else []

    def _get_time_to_bill_domain(self):
        """Hook for extensions: released time entries this run bills."""
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
            ("date", "<=", self.period_end),
            # time a prepaid fund paid for in full is not billed again (only the overage is)
            "|",
            ("psa_drawdown_ids", "=", False),
            ("psa_drawdown_ids.overage_quantity", ">", 0),
            ("so_line.order_id.state", "=", "sale"),
            ("so_line.company_id", "in", self.company_ids.ids),
            ("so_line.qty_delivered_method", "=", "timesheet"),
            ("so_line.product_id.invoice_policy", "=", "delivery"),
            *self._psa_customer_domain("so_line.order_id.partner_id.commercial_partner_id"),
        ]

    def _get_sale_lines_to_bill_domain(self):
        """Hook for extensions: order lines billed on their quantity to invoice (not on time)."""
        return [
            ("order_id.state", "=", "sale"),
            ("company_id", "in", self.company_ids.ids),
            ("display_type", "=", False),
            ("is_downpayment", "=", False),
            ("qty_to_invoice", ">", 0),
            ("order_id.date_order", "<=", datetime.combine(self.period_end, time.max)),
            "|",
            ("qty_delivered_method", "!=", "timesheet"),
            ("product_id.invoice_policy", "=", "order"),
            *self._psa_customer_domain("order_id.partner_id.commercial_partner_id"),
        ]

    def _psa_collect(self, sale_lines=None, contract_lines=None, only_sources=False, extra_sources=None):
        """Everything this run would bill or skip, as run-line values (plus private ``_*`` keys).

        With ``only_sources`` only the given order / agreement lines (and generic sources
        ``extra_sources``, ``{model: [ids]}``) are looked at (confirm).
        """
        self.ensure_one()
        vals_list = []
        time_domain = self._get_time_to_bill_domain()
        line_domain = self._get_sale_lines_to_bill_domain()
        if only_sources:
            time_domain.append(("so_line", "in", sale_lines.ids))
            line_domain.append(("id", "in", sale_lines.ids))
        vals_list += self._psa_collect_time(time_domain)
        vals_list += self._psa_collect_sale_lines(line_domain)
        if not only_sources or contract_lines:
            vals_list += self._psa_collect_recurring(contract_lines if only_sources else None)
        if not only_sources or extra_sources:
            vals_list += self._psa_collect_extra_sources(extra_sources if only_sources else None)
        self._psa_apply_skip_rules(vals_list)
        if not only_sources:
            vals_list += self._psa_collect_unapproved_time()
            vals_list += self._psa_collect_nothing_to_bill(vals_list)
        return vals_list

    def _psa_collect_time(self, domain):
        rows = (
            self.env["account.analytic.line"]
            .sudo()
            ._read_group(domain, ["so_line"], ["id:array_agg", "unit_amount:sum", "date:min", "date:max"])
        )
        vals_list = []
        covered_by_line = self._psa_fund_covered_hours([ts_id for row in rows for ts_id in row[1]])
        for sale_line, timesheet_ids, hours, date_from, date_to in rows:
            company = sale_line.company_id
            covered_hours, funds = covered_by_line.get(sale_line.id, (0.0, None))
            # time is logged in the company's time unit; bill it in the order line's unit
            quantity = company.project_time_mode_id._compute_quantity(
                hours - covered_hours, sale_line.product_uom, raise_if_failure=False
            )
            vals = self._psa_sale_line_vals(sale_line, quantity, "time")
            vals["explanation"] = self.env._(
                "%(count)s approved time entries, %(hours)s h from %(date_from)s to %(date_to)s, "
                "at %(rate)s per %(uom)s (order %(order)s, time up to %(period_end)s).",
                count=len(timesheet_ids),
                hours=round(hours, 2),
                date_from=date_from,
                date_to=date_to,
                rate=format_amount(self.env, sale_line.price_unit, sale_line.currency_id),
                uom=sale_line.product_uom.name,
                order=sale_line.order_id.name,
                period_end=self.period_end,
            )
            if covered_hours:
                vals["explanation"] += " " + self.env._(
                    "%(covered)s h of them paid by prepaid fund %(funds)s: the %(overage)s h beyond it are billed "
                    "at the agreed rate.",
                    covered=round(covered_hours, 2),
                    funds=", ".join(funds.mapped("name")),
                    overage=round(hours - covered_hours, 2),
                )
            vals["_timesheet_ids"] = sorted(timesheet_ids)
            vals["_keys"] = [billing_key("account.analytic.line", ts_id, "time") for ts_id in sorted(timesheet_ids)]
            vals_list.append(vals)
        return vals_list

    def _psa_collect_sale_lines(self, domain):
        sale_lines = self.env["sale.order.line"].search(domain, order="order_id, sequence, id")
        milestones = defaultdict(list)
        if "project.milestone" in self.env and sale_lines:
            for milestone in (
                self.env["project.milestone"]
                .sudo()
                .search([("sale_line_id", "in", sale_lines.ids), ("is_reached", "=", True)], order="reached_date, id")
            ):
                milestones[milestone.sale_line_id.id].append(milestone)
        policies = dict(self.env["product.template"]._fields["invoice_policy"]._description_selection(self.env))
        expenses, receipts = self._psa_expenses_by_sale_line(sale_lines.filtered("is_expense"))
        vals_list = []
        for sale_line in sale_lines:
            is_milestone = sale_line.qty_delivered_method == "milestones"
            source_type = "milestone" if is_milestone else ("expense" if sale_line.is_expense else "service")
            quantity = sale_line.qty_to_invoice
            if is_milestone:
                reached, later = self._psa_split_milestones_at_period_end(milestones[sale_line.id])
                milestones[sale_line.id] = reached
                quantity = self._psa_milestone_quantity_due(sale_line, reached)
                if float_compare(quantity, 0.0, precision_rounding=sale_line.product_uom.rounding) <= 0:
                    if later:
                        vals_list.append(self._psa_milestones_after_period_vals(sale_line, later))
                    continue
            vals = self._psa_sale_line_vals(sale_line, quantity, source_type)
            rate = format_amount(self.env, sale_line.price_unit, sale_line.currency_id)
            if source_type == "expense":
                line_expenses = expenses.get(sale_line.id, self.env["hr.expense"].sudo())
                line_receipts = receipts.get(sale_line.id, self.env["ir.attachment"])
                vals["explanation"] = self.env._(
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
                vals["_receipt_ids"] = line_receipts.ids
            elif is_milestone:
                vals["explanation"] = self.env._(
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
                vals["explanation"] = self.env._(
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
            vals["_keys"] = [billing_key("sale.order.line", sale_line.id, quantity_watermark(sale_line.qty_invoiced))]
            vals_list.append(vals)
        return vals_list

    def _psa_expenses_by_sale_line(self, sale_lines):
        """The expenses (sale_expense) behind re-invoiced order lines and their receipt files."""
        # sudo: a billing clerk need not read expense reports; only the name, employee and date of the expenses
        # behind the lines being billed go into their explanation (and the receipts onto the invoice).
        expenses, receipts = defaultdict(lambda: self.env["hr.expense"].sudo()), {}
        if not sale_lines:
            return expenses, receipts
        analytic_lines = (
            self.env["account.analytic.line"]
            .sudo()
            .search([("so_line", "in", sale_lines.ids), ("move_line_id.expense_id", "!=", False)])
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

    def _psa_sale_line_vals(self, sale_line, quantity, source_type):
        order = sale_line.order_id
        currency = sale_line.currency_id
        amount = currency.round(quantity * sale_line.price_unit * (1 - (sale_line.discount or 0.0) / 100.0))
        return {
            "kind": "bill",
            "state": "pending",
            "source_type": source_type,
            "company_id": sale_line.company_id.id,
            "partner_id": order.partner_id.commercial_partner_id.id,
            "order_id": order.id,
            "sale_line_id": sale_line.id,
            "name": sale_line.name,
            "quantity": quantity,
            "price_unit": sale_line.price_unit,
            "currency_id": currency.id,
            "amount": amount,
            "group_key": invoice_group_key(
                self.grouping,
                order.company_id.id,
                order.partner_invoice_id.id,
                currency.id,
                order.id,
                order.client_order_ref,
            ),
            "_invoice_line_vals": None,  # prepared when billed (_psa_invoice_line_vals)
            "_order": order,
        }

    def _get_contracts_to_bill_domain(self):
        """Hook for extensions: agreements (OCA contract) with a period due up to the period end."""
        return [
            ("contract_type", "=", "sale"),
            ("company_id", "in", self.company_ids.ids),
            ("recurring_next_date", "!=", False),
            ("recurring_next_date", "<=", self.period_end),
            *self._psa_customer_domain("partner_id.commercial_partner_id"),
        ]

    def _psa_collect_recurring(self, contract_lines=None):
        """Agreement lines due up to the period end: one period per line and run, as OCA does.

        Nothing is written here (the preview uses it): the agreement's dates move on only when the
        invoice is created, in the same transaction as its keys.
        """
        domain = self._get_contracts_to_bill_domain()
        if contract_lines is not None:
            domain.append(("id", "in", contract_lines.contract_id.ids))
        vals_list = []
        rules = dict(self.env["contract.line"]._fields["recurring_rule_type"]._description_selection(self.env))
        for contract in self.env["contract.contract"].search(domain, order="id"):
            date_ref = contract.recurring_next_date
            # every line due by the period end (a change-order line starting mid-period too), one period each
            lines = contract._get_lines_to_invoice(self.period_end).filtered(lambda line: not line.display_type)
            if contract_lines is not None:
                lines &= contract_lines
            if not lines:
                continue
            invoice_vals = contract._prepare_invoice(date_ref)
            for line in lines:
                first_date, last_date, _next_date = line._get_period_to_invoice(
                    line.last_date_invoiced, line.recurring_next_date
                )
                line_vals = line._prepare_invoice_line()
                line_vals.pop("company_id", None)
                line_vals.pop("company_currency_id", None)
                quantity = line_vals["quantity"]
                price_unit = line_vals.get("price_unit", line.price_unit)
                currency = contract.currency_id
                explanation = self.env._(
                    "Agreement %(agreement)s, period %(start)s to %(end)s (%(rule)s, invoiced %(when)s): "
                    "%(qty)s x %(rate)s.",
                    agreement=contract.display_name,
                    start=first_date,
                    end=last_date,
                    rule=rules.get(line.recurring_rule_type, ""),
                    when=line.recurring_invoicing_type,
                    qty=quantity,
                    rate=format_amount(self.env, price_unit, currency),
                )
                proration = line._psa_proration(first_date, last_date)
                if proration:
                    explanation += " " + self.env._(
                        "Prorated: the line runs %(covered)s of the period's %(full)s days (from %(start)s to "
                        "%(end)s), full rate %(rate)s.",
                        covered=proration[0],
                        full=proration[1],
                        start=first_date,
                        end=last_date,
                        rate=format_amount(self.env, line.price_unit, currency),
                    )
                line_vals["psa_billing_explanation"] = explanation
                vals_list.append(
                    {
                        "kind": "bill",
                        "state": "pending",
                        "source_type": "recurring",
                        "company_id": contract.company_id.id,
                        "partner_id": contract.partner_id.commercial_partner_id.id,
                        "contract_id": contract.id,
                        "contract_line_id": line.id,
                        "name": line_vals["name"],
                        "quantity": quantity,
                        "price_unit": price_unit,
                        "currency_id": currency.id,
                        "amount": currency.round(quantity * price_unit * (1 - (line.discount or 0.0) / 100.0)),
                        "explanation": explanation,
                        "group_key": f"contract:{contract.id}:{date_ref}",
                        "_keys": [billing_key("contract.line", line.id, first_date)],
                        "_invoice_line_vals": line_vals,
                        "_invoice_vals": dict(invoice_vals),
                    }
                )
        return vals_list

    def _psa_collect_unapproved_time(self):
        """Time up to the period end still waiting for approval: not billed, said in the preview."""
        domain = [
            ("project_id", "!=", False),
            ("so_line", "!=", False),
            ("psa_approval_state", "=", "to_approve"),
            ("timesheet_invoice_id", "=", False),
            ("date", "<=", self.period_end),
            ("so_line.order_id.state", "=", "sale"),
            ("so_line.company_id", "in", self.company_ids.ids),
            *self._psa_customer_domain("so_line.order_id.partner_id.commercial_partner_id"),
        ]
        rows = self.env["account.analytic.line"].sudo()._read_group(domain, ["so_line"], ["unit_amount:sum", "__count"])
        return [
            {
                "kind": "skip",
                "state": "skipped",
                "source_type": "time",
                "company_id": sale_line.company_id.id,
                "partner_id": sale_line.order_id.partner_id.commercial_partner_id.id,
                "order_id": sale_line.order_id.id,
                "sale_line_id": sale_line.id,
                "name": sale_line.name,
                "quantity": hours,
                "currency_id": sale_line.currency_id.id,
                "skip_reason": self.env._(
                    "%(count)s time entries (%(hours)s h) wait for approval", count=count, hours=round(hours, 2)
                ),
            }
            for sale_line, hours, count in rows
        ]

    def _psa_collect_nothing_to_bill(self, vals_list):
        """Customers chosen on the run with nothing at all to bill are listed with that reason."""
        seen = {vals["partner_id"] for vals in vals_list}
        return [
            {
                "kind": "skip",
                "state": "skipped",
                "company_id": self.company_id.id,
                "partner_id": partner.id,
                "name": partner.display_name,
                "skip_reason": self.env._("nothing to bill up to %(date)s", date=self.period_end),
            }
            for partner in self.partner_ids.commercial_partner_id
            if partner.id not in seen
        ]

    def _psa_apply_skip_rules(self, vals_list):
        """Turn into skips what may not be billed (already billed, customer on hold, PO rules).

        Order lines get their invoice line values only when they are billed (``_psa_invoice_line_vals``):
        a preview does not need them, and an order line Odoo cannot invoice (no income account...)
        then fails its own customer at the confirm, with the reason, instead of the whole preview.
        """
        self._psa_skip_already_billed(vals_list)
        for vals in vals_list:
            order = vals.pop("_order", None)
            if vals["kind"] != "bill":
                continue
            reason = self._psa_get_skip_reason(vals, order)
            if reason:
                vals.update({"kind": "skip", "state": "skipped", "skip_reason": reason})
        deductions = self._psa_collect_downpayment_deductions(vals_list)
        self._psa_skip_already_billed(deductions)
        vals_list += deductions
        self._psa_apply_po_rules(vals_list)

    def _psa_skip_already_billed(self, vals_list):
        """Skip what an exactly-once key says is billed already, in the preview as at the confirm
        (e.g. an order line Odoo counts as credited by a credit note still in draft)."""
        taken = self.env["psa.billing.key"]._psa_existing(
            [key for vals in vals_list if vals["kind"] == "bill" for key in vals.get("_keys", [])]
        )
        for vals in vals_list:
            billed_on = [taken[key] for key in vals.get("_keys", []) if key in taken] if vals["kind"] == "bill" else []
            if billed_on:
                reason = self.env._("already billed on %(invoice)s", invoice=billed_on[0] or "?")
                vals.update({"kind": "skip", "state": "skipped", "skip_reason": reason})

    def _psa_invoice_line_vals(self, run_line, vals):
        """The invoice line of one billed source: given by the source (agreements, generic
        sources) or prepared from its order line now."""
        if vals.get("_invoice_line_vals") is None:
            vals["_invoice_line_vals"] = self._prepare_billing_invoice_line_vals(run_line.sale_line_id, vals)
        return vals["_invoice_line_vals"]

    def _prepare_billing_invoice_line_vals(self, sale_line, vals):
        """Hook for extensions: the invoice line of one billed order line."""
        return sale_line._prepare_invoice_line(quantity=vals["quantity"], psa_billing_explanation=vals["explanation"])

    def _psa_get_skip_reason(self, vals, order):
        """Hook for extensions: why a billable line must not be billed now (or ``False``).

        Customer on hold here; the purchase-order rules apply to whole invoices
        (``_psa_apply_po_rules``).
        """
        partner = self.env["res.partner"].browse(vals["partner_id"])
        if partner.psa_billing_hold:
            return self.env._(
                "customer on hold: %(reason)s", reason=partner.psa_billing_hold_reason or self.env._("no reason given")
            )
        return False
