import logging
import threading
from datetime import timedelta

from psycopg2 import IntegrityError
from psycopg2.errors import SerializationFailure

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tools import SQL, format_datetime, mute_logger, split_every

from odoo.addons.psa_orders.tools import locks

from ..tools import autopay

_logger = logging.getLogger(__name__)
# A payment link sent less than this many seconds ago is not sent again (a double click, a second click).
PAYMENT_LINK_RESEND_DELAY = 120


class AccountMove(models.Model):
    _inherit = "account.move"

    psa_attempt_ids = fields.One2many("psa.payment.attempt", "move_id", string="Auto-pay attempts", readonly=True)
    psa_attempt_count = fields.Integer(compute="_compute_psa_attempt_count")
    psa_payment_link_sent_at = fields.Datetime(
        string="Payment Link Sent",
        readonly=True,
        copy=False,
        help="When the link to pay online was last sent from the Send Payment Link button.",
    )
    psa_autopay_note = fields.Char(
        string="Auto-pay",
        readonly=True,
        copy=False,
        help="The last auto-pay decision on this invoice, in words.",
    )

    psa_disputed = fields.Boolean(
        string="Disputed",
        tracking=True,
        copy=False,
        help="The customer disputes this invoice: no overdue reminder goes to the customer while it is open.",
    )
    psa_dispute_reason = fields.Char(string="Dispute reason", tracking=True, copy=False)
    psa_reminder_level = fields.Integer(
        string="Reminder level",
        compute="_compute_psa_reminder_level",
        store=True,
        help="The last automatic overdue reminder level sent for this invoice (0: none).",
    )
    psa_reminder_note = fields.Char(
        string="Overdue reminders",
        readonly=True,
        copy=False,
        help="The last automatic overdue reminder decision on this invoice, in words.",
    )
    psa_can_charge_now = fields.Boolean(
        compute="_compute_psa_can_charge_now",
        help="A posted customer invoice with an amount due, an active mandate under its maximum and no open charge.",
    )

    @api.depends("psa_attempt_ids")
    def _compute_psa_attempt_count(self):
        for move in self:
            move.psa_attempt_count = len(move.psa_attempt_ids)

    @api.depends("overdue_reminder_ids.psa_level")
    def _compute_psa_reminder_level(self):
        for move in self:
            move.psa_reminder_level = max(move.overdue_reminder_ids.mapped("psa_level"), default=0)

    @api.constrains("psa_disputed", "psa_dispute_reason")
    def _check_psa_dispute_reason(self):
        for move in self:
            if move.psa_disputed and not (move.psa_dispute_reason or "").strip():
                raise ValidationError(
                    self.env._("Say why %(invoice)s is disputed (Dispute reason).", invoice=move.name or "")
                )

    def _psa_pay_url(self):
        """The absolute link to Odoo's portal page of the invoice with its payment form open (Pay Now)."""
        self.ensure_one()
        return self.get_base_url() + self.get_portal_url(anchor="portal_pay", query_string="&payment=True")

    @api.depends("move_type", "state", "amount_residual", "commercial_partner_id", "psa_attempt_ids.state")
    def _compute_psa_can_charge_now(self):
        """Whether *Charge now* can work: the button is shown only then (same checks as the action)."""
        due = self.filtered(lambda m: m.move_type == "out_invoice" and m.state == "posted" and m.amount_residual > 0)
        mandates = {}
        # sudo: only whether a mandate exists is shown, to whoever may read the invoice
        mandate_model = self.env["psa.payment.mandate"].sudo()
        for company in due.company_id:
            for mandate in mandate_model.search(
                [
                    *mandate_model._get_active_mandates_domain(company),
                    ("partner_id", "in", due.commercial_partner_id.ids),
                ]
            ):
                mandates.setdefault((company.id, mandate.partner_id.id), mandate)
        for move in self:
            mandate = mandates.get((move.company_id.id, move.commercial_partner_id.id)) if move in due else None
            move.psa_can_charge_now = bool(
                mandate
                and autopay.amount_to_charge(move.amount_residual, mandate.max_amount)[1] != "above_cap"
                and not move.psa_attempt_ids.filtered(lambda a: a.state in ("pending", "unknown"))
            )

    # ------------------------------------------------------------------
    # Cron
    # ------------------------------------------------------------------

    @api.model
    def _cron_charge_due_invoices(self, batch_size=50):
        """Charge every due invoice covered by an active mandate, company by company, in chunks.

        Idempotent: attempts already open or paid are skipped, lost answers are resolved before any new
        charge, and a rerun with the same attempt number replays the same idempotency key.

        The cron opens the attempts and their draft transactions, chunk by chunk, and enqueues one queue job
        per attempt on ``root.psa.payments`` (``psa.payment.attempt._psa_job_charge``): the charges themselves
        run on whichever job workers are free, on any node. Returns the number of attempts opened.
        """
        done = 0
        for company in self.env["res.company"].search([]):
            moves = self.with_company(company)
            moves.env["psa.payment.attempt"]._resolve_open_attempts(company)
            mandates = moves.env["psa.payment.mandate"].search(
                moves.env["psa.payment.mandate"]._get_active_mandates_domain(company)
            )
            if not mandates:
                continue
            due = moves.search(moves._get_autopay_candidate_domain(company, mandates))._psa_filter_chargeable(mandates)
            # (chunk, first try): a chunk that met another transaction goes to the end of the list, to be tried
            # once more after the others, on a new snapshot
            chunks = [(chunk_ids, True) for chunk_ids in split_every(batch_size, due.ids)]
            for chunk_ids, first_try in chunks:
                opened = moves.browse(chunk_ids)._psa_charge_chunk(mandates)
                if opened is None:
                    if first_try:
                        chunks.append((chunk_ids, False))
                    else:
                        _logger.warning(
                            "auto-pay: %s invoice(s) still in conflict with another transaction, left to the next run",
                            len(chunk_ids),
                        )
                    continue
                done += len(opened)
                self.env["ir.cron"]._notify_progress(done=done, remaining=max(len(due) - done, 0))
        self._psa_close_handover_activities()
        return done

    def _psa_charge_chunk(self, mandates):
        """Open and enqueue the charges of these invoices (``_psa_charge_later``) in a savepoint, flushed, then
        commit (outside tests); return the attempts, or None when the chunk met a concurrent transaction (a
        serialization failure, a deadlock, a lock not available: another run, a payment being recorded). Such a
        chunk is rolled back whole, its transaction ended so that a retry reads a new snapshot: none of its
        attempts, transactions or jobs exists, and the cron tries it again after the other chunks."""
        try:
            with self.env.cr.savepoint(), mute_logger("odoo.sql_db"):
                opened = self._psa_charge_later(mandates)
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY as error:
            # the savepoint's rollback emptied the caches already (cr.clear)
            _logger.info("auto-pay: %s invoice(s) met another transaction (%s), tried again later", len(self), error)
            self._psa_commit_if_not_testing()
            return None
        self._psa_commit_if_not_testing()
        return opened

    @api.model
    def _psa_close_handover_activities(self):
        """Mark done the hand-over activities (auto-pay failed, new card needed) that are resolved: the invoice
        is paid, or its customer's mandate is active again (reactivated, or moved to a new card)."""
        activity_type = self.env.ref("psa_payments.mail_activity_type_psa_autopay_handover")
        # sudo: the cron closes the activities of every salesperson; it only marks resolved ones done
        activities = (
            self.env["mail.activity"]
            .sudo()
            .search([("activity_type_id", "=", activity_type.id), ("res_model", "=", "account.move")])
        )
        if not activities:
            return activities
        moves = self.sudo().browse(set(activities.mapped("res_id"))).exists()
        active_mandates = (
            self.env["psa.payment.mandate"]
            .sudo()
            .search([("state", "=", "active"), ("partner_id", "in", moves.commercial_partner_id.ids)])
        )
        back_on_autopay = {(m.partner_id.id, m.company_id.id) for m in active_mandates}
        paid = moves.filtered(lambda move: move.payment_state in ("paid", "in_payment", "reversed"))
        resumed = moves.filtered(lambda move: (move.commercial_partner_id.id, move.company_id.id) in back_on_autopay)
        resolved = activities.filtered(lambda activity: activity.res_id in (paid | resumed).ids)
        for move in paid | resumed:
            feedback = (
                self.env._("Resolved: the invoice is paid.")
                if move in paid
                else self.env._("Resolved: the customer's auto-pay mandate is active again.")
            )
            resolved.filtered(lambda activity, move=move: activity.res_id == move.id).action_feedback(feedback=feedback)
        return resolved

    @api.model
    def _get_autopay_candidate_domain(self, company, mandates):
        """Hook for extensions: posted, unpaid customer invoices of customers with an active mandate."""
        return [
            ("company_id", "=", company.id),
            ("move_type", "=", "out_invoice"),
            ("state", "=", "posted"),
            ("payment_state", "in", ("not_paid", "partial")),
            ("amount_residual", ">", 0),
            ("commercial_partner_id", "in", mandates.partner_id.commercial_partner_id.ids),
            ("invoice_date", "<=", fields.Date.context_today(self)),
            ("psa_attempt_ids", "not any", [("state", "in", ("pending", "unknown"))]),
        ]

    def _psa_autopay_forecast(self, mandates):
        """What auto-pay will do with each invoice, for the customer to read: ``{move id: (date, amount, note)}``.

        ``date`` is the day of the next charge (``None``: auto-pay will not charge it, ``note`` says why).
        """
        today = fields.Date.context_today(self)
        by_customer = {(m.partner_id.commercial_partner_id.id, m.company_id.id): m for m in mandates}
        forecast = {}
        for move in self:
            mandate = by_customer.get((move.commercial_partner_id.id, move.company_id.id))
            if not mandate:
                continue
            open_attempts = move.psa_attempt_ids.filtered(lambda a: a.state in ("pending", "unknown"))
            failed = move._psa_failures_under(mandate)
            _amount, refusal = autopay.amount_to_charge(move.amount_residual, mandate.max_amount)
            if open_attempts:
                forecast[move.id] = (None, move.amount_residual, self.env._("A payment is being processed."))
            elif refusal == "above_cap":
                forecast[move.id] = (
                    None,
                    move.amount_residual,
                    self.env._("Above your auto-pay maximum per invoice: please pay it online."),
                )
            elif failed:
                next_date = failed.sorted("number")[-1].next_retry_date
                if next_date:
                    forecast[move.id] = (max(next_date, today), move.amount_residual, "")
                else:
                    forecast[move.id] = (
                        None,
                        move.amount_residual,
                        self.env._("Your card could not be charged: please pay it online."),
                    )
            else:
                first = autopay.first_charge_date(
                    mandate.trigger, move.invoice_date, move.invoice_date_due, mandate.hold_days
                )
                forecast[move.id] = (max(first, today), move.amount_residual, "")
        return forecast

    def _psa_failures_under(self, mandate):
        """The invoice's failed attempts that count under the mandate: a card that could no longer be charged
        (expired, lost...) and that the customer has replaced since does not hold the invoice back."""
        self.ensure_one()
        return self.psa_attempt_ids.filtered(
            lambda a: a.state == "failed"
            and a.mandate_id == mandate
            and not (a.failure_policy == "new_card" and a.transaction_id.token_id != mandate.token_id)
        )

    def _psa_mandate_by_partner(self, mandates):
        return {mandate.partner_id.commercial_partner_id.id: mandate for mandate in mandates}

    def _psa_filter_chargeable(self, mandates):
        """The invoices due today under their mandate (trigger, hold, retry schedule, cap).

        Invoices refused by the cap get a readable note, written only when it changes.
        """
        today = fields.Date.context_today(self)
        by_partner = self._psa_mandate_by_partner(mandates)
        chargeable = self.browse()
        for move in self:
            mandate = by_partner.get(move.commercial_partner_id.id)
            if not mandate or move.psa_attempt_ids.filtered(lambda a: a.state in ("pending", "unknown")):
                continue
            failed = move._psa_failures_under(mandate)
            if failed:
                next_date = failed.sorted("number")[-1].next_retry_date
                if not next_date or next_date > today:
                    continue
            elif (
                autopay.first_charge_date(mandate.trigger, move.invoice_date, move.invoice_date_due, mandate.hold_days)
                > today
            ):
                continue
            _amount, refusal = autopay.amount_to_charge(move.amount_residual, mandate.max_amount)
            if refusal == "above_cap":
                note = self.env._(
                    "Not charged automatically: %(due)s due is above the mandate maximum of %(cap)s per invoice.",
                    due=move.amount_residual,
                    cap=mandate.max_amount,
                )
                if move.psa_autopay_note != note:
                    move.psa_autopay_note = note
                    move.message_post(body=note)
                continue
            if refusal:
                continue
            chargeable |= move
        return chargeable

    # ------------------------------------------------------------------
    # Overdue reminders (engine: OCA account_invoice_overdue_reminder)
    # ------------------------------------------------------------------

    @api.model
    def _psa_get_reminder_candidate_domain(self, company, first_level_days):
        """Hook for extensions: the company's open customer invoices at least ``first_level_days`` overdue."""
        limit = fields.Date.context_today(self) - timedelta(days=first_level_days)
        return [
            ("company_id", "=", company.id),
            ("move_type", "=", "out_invoice"),
            ("state", "=", "posted"),
            ("payment_state", "in", ("not_paid", "partial")),
            ("amount_residual", ">", 0),
            ("invoice_date_due", "<=", limit),
            ("no_overdue_reminder", "=", False),
        ]

    def _psa_reminder_refusals(self, company):
        """Hook for extensions: ``{move id: reason}`` for the invoices no reminder may go out for.

        Never to a customer on billing hold, with an open disputed invoice, who opted out of reminders, or
        whose invoice an active auto-pay mandate charges (within its maximum per invoice).
        """
        partners = self.commercial_partner_id.with_company(company)
        disputed = self.search(
            [
                ("company_id", "=", company.id),
                ("commercial_partner_id", "in", partners.ids),
                ("psa_disputed", "=", True),
                ("state", "=", "posted"),
                ("payment_state", "in", ("not_paid", "partial")),
            ]
        )
        disputed_by_partner = {}
        for move in disputed:
            disputed_by_partner.setdefault(move.commercial_partner_id.id, move)
        mandate_model = self.env["psa.payment.mandate"].with_company(company)
        mandates = mandate_model.search(
            [*mandate_model._get_active_mandates_domain(company), ("partner_id", "in", partners.ids)]
        )
        mandate_by_partner = self._psa_mandate_by_partner(mandates)
        refusals = {}
        for move in self:
            partner = move.commercial_partner_id.with_company(company)
            dispute = disputed_by_partner.get(partner.id)
            mandate = mandate_by_partner.get(partner.id)
            if partner.psa_billing_hold:
                refusals[move.id] = self.env._(
                    "Not reminded: customer on hold (%(reason)s).",
                    reason=partner.psa_billing_hold_reason or self.env._("no reason given"),
                )
            elif dispute:
                refusals[move.id] = self.env._(
                    "Not reminded: %(invoice)s of this customer is disputed (%(reason)s).",
                    invoice=dispute.name,
                    reason=dispute.psa_dispute_reason or "",
                )
            elif partner.no_overdue_reminder:
                refusals[move.id] = self.env._("Not reminded: the customer has overdue reminders disabled.")
            elif mandate and not autopay.amount_to_charge(move.amount_residual, mandate.max_amount)[1]:
                refusals[move.id] = self.env._(
                    "Not reminded: auto-pay charges it (%(mandate)s).", mandate=mandate.display_name
                )
        return refusals

    def _psa_write_reminder_note(self, note):
        """Write the reminder decision where it changed, and say it in the chatter once."""
        changed = self.filtered(lambda m: m.psa_reminder_note != note)
        if changed:
            changed.write({"psa_reminder_note": note})
            for move in changed:
                move.message_post(body=note)

    def _psa_lock_for_charge(self):
        """Lock the invoices for this run; rows another run holds are left to it."""
        if not self:
            return self
        self.env.cr.execute(SQL("SELECT id FROM account_move WHERE id IN %s FOR UPDATE SKIP LOCKED", tuple(self.ids)))
        locked = self.browse([row[0] for row in self.env.cr.fetchall()])
        # Another run may have charged them between our search and the lock: read again.
        locked.invalidate_recordset(["psa_attempt_ids", "amount_residual", "payment_state"])
        return locked.filtered(
            lambda m: m.payment_state in ("not_paid", "partial")
            and not m.psa_attempt_ids.filtered(lambda a: a.state in ("pending", "unknown"))
        )

    def _psa_charge(self, mandates):
        """Open one attempt per invoice and charge it in this process; return the attempts."""
        attempts = self._psa_open_attempts(mandates)
        attempts._send()
        return attempts

    def _psa_charge_later(self, mandates):
        """Open one attempt per invoice with its draft transaction and enqueue its charge job; return the
        attempts."""
        attempts = self._psa_open_attempts(mandates)
        attempts._psa_create_transactions()
        # sudo: the providers' own accounting set-up, nothing is shown
        attempts.transaction_id.provider_id.sudo()._psa_settle_payment_method_line()
        attempts._psa_enqueue_charges()
        return attempts

    def _psa_open_attempts(self, mandates):
        """Lock the invoices and open the next attempt of each (pending, nothing sent)."""
        by_partner = self._psa_mandate_by_partner(mandates)
        moves = self._psa_lock_for_charge()
        vals_list = [move._psa_prepare_attempt_vals(by_partner[move.commercial_partner_id.id]) for move in moves]
        return self._psa_create_attempts(vals_list)

    @api.model
    def _psa_create_attempts(self, vals_list):
        """Open the attempts, one insert for the batch; invoices another run opened an attempt on meanwhile are
        skipped.

        The row lock of ``_psa_lock_for_charge`` keeps two runs apart while neither has committed, but a run
        commits its pending attempts before sending them, which releases the lock; a run whose snapshot predates
        that commit does not see them. PostgreSQL's unique index "one open attempt per invoice" refuses its
        insert: the batch is retried invoice by invoice and the refused ones are left to the run that holds them.
        """
        attempts = self.env["psa.payment.attempt"].sudo()
        try:
            with self.env.cr.savepoint(), mute_logger("odoo.sql_db"):
                return attempts.create(vals_list)
        except (IntegrityError, SerializationFailure):
            # the cache may still hold the rolled-back rows
            self.env.invalidate_all()
            if len(vals_list) == 1:
                _logger.info("auto-pay: invoice %s is being charged by another run, skipped", vals_list[0]["move_id"])
                return attempts
        created = attempts
        for vals in vals_list:
            created |= self._psa_create_attempts([vals])
        return created

    def _psa_prepare_attempt_vals(self, mandate):
        """Hook for extensions: the next attempt for this invoice, charging what is still due."""
        self.ensure_one()
        number = max(self.psa_attempt_ids.mapped("number"), default=0) + 1
        return {
            "move_id": self.id,
            "mandate_id": mandate.id,
            "number": number,
            "idempotency_key": autopay.idempotency_key(
                self.env["ir.config_parameter"].sudo().get_param("database.uuid"), self.id, number
            ),
            "amount": self.amount_residual,
            "currency_id": self.currency_id.id,
        }

    @api.model
    def _psa_commit_if_not_testing(self):
        if not getattr(threading.current_thread(), "testing", False) and not self.env.registry.in_test_mode():
            self.env.cr.commit()  # pylint: disable=invalid-commit  # cron chunks, never in tests

    # ------------------------------------------------------------------
    # Customer contact and buttons
    # ------------------------------------------------------------------

    def _psa_send_payment_link_email(self):
        """Hook for extensions: email the customer a link to pay the invoice online."""
        template = self.env.ref("psa_payments.mail_template_autopay_failed", raise_if_not_found=False)
        if template:
            template.sudo().send_mail_batch(self.ids)

    def _psa_send_new_card_email(self):
        """Hook for extensions: email the customer that the saved card cannot be charged any more."""
        template = self.env.ref("psa_payments.mail_template_autopay_new_card", raise_if_not_found=False)
        if template:
            template.sudo().send_mail_batch(self.ids)

    def _psa_payment_link_invoices(self):
        """The invoices a payment link may go to (posted, with an amount due), else a refusal in words."""
        invoices = self.filtered(lambda m: m.is_invoice() and m.state == "posted" and m.amount_residual > 0)
        if invoices != self:
            raise UserError(self.env._("A payment link is only sent for posted invoices with an amount due."))
        return invoices

    def _psa_payment_link_split(self):
        """Lock the invoices' rows, then split them into (to send, sent less than ``PAYMENT_LINK_RESEND_DELAY``
        seconds ago). A second press waits for the first, then sees what it committed."""
        locks.lock_rows(self.env.cr, "account_move", self.ids)
        self.invalidate_recordset(["psa_payment_link_sent_at"])
        recent = fields.Datetime.now() - timedelta(seconds=PAYMENT_LINK_RESEND_DELAY)
        already = self.filtered(lambda m: m.psa_payment_link_sent_at and m.psa_payment_link_sent_at > recent)
        return self - already, already

    def _psa_payment_link_sent(self, note=True):
        """Record that the link went out now (the guard of the next press), with a note on each invoice."""
        self.write({"psa_payment_link_sent_at": fields.Datetime.now()})
        if note:
            for move in self:
                move.message_post(body=self.env._("Payment link sent to %(email)s.", email=move.partner_id.email or ""))

    def _psa_payment_link_notification(self, sent, already):
        messages = [
            self.env._(
                "%(invoice)s: payment link sent to %(email)s.", invoice=move.name, email=move.partner_id.email or ""
            )
            for move in sent
        ] + [
            self.env._(
                "%(invoice)s: a payment link was already sent %(when)s; not sent again.",
                invoice=move.name,
                when=format_datetime(self.env, move.psa_payment_link_sent_at, dt_format="short"),
            )
            for move in already
        ]
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "message": "\n".join(messages),
                "type": "success" if sent else "warning",
                "sticky": False,
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def action_psa_send_payment_link(self):
        """Open the mail composer with the payment-link e-mail prefilled, to read (and adjust) before sending.

        A link sent less than ``PAYMENT_LINK_RESEND_DELAY`` seconds ago is not offered again: the answer is a
        notification saying when it went out. Sending from the composer checks that again (two composers
        opened at once send once), see ``mail.compose.message.action_send_mail``.
        """
        invoices = self._psa_payment_link_invoices()
        to_send, already = invoices._psa_payment_link_split()
        if not to_send:
            return self._psa_payment_link_notification(to_send, already)
        template = self.env.ref("psa_payments.mail_template_payment_link")
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Send payment link"),
            "res_model": "mail.compose.message",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {
                "default_model": "account.move",
                "default_res_ids": to_send.ids,
                "default_template_id": template.id,
                "default_composition_mode": "comment" if len(to_send) == 1 else "mass_mail",
                "default_email_layout_xmlid": "mail.mail_notification_layout_with_responsible_signature",
                "psa_payment_link": True,
            },
        }

    def action_psa_send_payment_link_now(self):
        """For integrators: e-mail the payment link as the template writes it, without a composer, once: a
        second call (or two at once) within ``PAYMENT_LINK_RESEND_DELAY`` seconds sends nothing.

        Returns a notification saying to whom it was sent, or when it already was.
        """
        invoices = self._psa_payment_link_invoices()
        to_send, already = invoices._psa_payment_link_split()
        if to_send:
            self.env.ref("psa_payments.mail_template_payment_link").send_mail_batch(to_send.ids)
            to_send._psa_payment_link_sent()
        return self._psa_payment_link_notification(to_send, already)

    def action_psa_charge_now(self):
        """Charge the saved payment method now, regardless of due date and hold (cap still applies).

        Runs in the person's request, not as a job: one charge is one call to the provider, and the person
        sees at once whether it was paid or why not. It takes the same locks, the same "one open attempt"
        index and the same idempotency key as the charge jobs.
        """
        self.ensure_one()
        if self.move_type != "out_invoice" or self.state != "posted" or self.amount_residual <= 0:
            raise UserError(self.env._("Only a posted customer invoice with an amount due can be charged."))
        mandate = self.env["psa.payment.mandate"].search(
            [
                *self.env["psa.payment.mandate"]._get_active_mandates_domain(self.company_id),
                ("partner_id", "=", self.commercial_partner_id.id),
            ],
            limit=1,
        )
        if not mandate:
            raise UserError(
                self.env._("%(customer)s has no active auto-pay mandate.", customer=self.commercial_partner_id.name)
            )
        # a revocation at the same moment: it waits for this charge, or this charge is run again after it
        mandate._psa_lock()
        if self.psa_attempt_ids.filtered(lambda a: a.state in ("pending", "unknown")):
            raise UserError(
                self.env._("A charge of this invoice is still open: wait for its outcome (rule: never charge twice).")
            )
        _amount, refusal = autopay.amount_to_charge(self.amount_residual, mandate.max_amount)
        if refusal == "above_cap":
            raise UserError(
                self.env._(
                    "%(due)s due is above the mandate maximum of %(cap)s per invoice.",
                    due=self.amount_residual,
                    cap=mandate.max_amount,
                )
            )
        attempts = self.sudo()._psa_charge(mandate.sudo())
        return bool(attempts)

    def action_psa_charge_selection(self):
        """*Charge now* from the Action menu: every selected invoice *Charge now* can work on is charged (one
        attempt each, as the cron does: the outcome and its reason are on the invoice's Auto-pay tab); the
        notification says which were charged and why the others were not."""
        invoices = self.filtered("psa_can_charge_now")
        skipped = self - invoices
        charged = self.env["psa.payment.attempt"]
        for company in invoices.company_id:
            company_invoices = invoices.filtered(lambda move, company=company: move.company_id == company)
            mandates = self.env["psa.payment.mandate"].search(
                [
                    *self.env["psa.payment.mandate"]._get_active_mandates_domain(company),
                    ("partner_id", "in", company_invoices.commercial_partner_id.ids),
                ]
            )
            charged |= company_invoices.sudo()._psa_charge(mandates.sudo())
        lines = [
            self.env._("%(invoice)s: %(outcome)s", invoice=attempt.move_id.name, outcome=attempt.provider_reason or "")
            for attempt in charged
        ] + [
            self.env._("%(invoice)s: not charged, %(reason)s", invoice=move.name, reason=move._psa_charge_refusal())
            for move in skipped
        ]
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Charge now: %(count)s of %(total)s charged", count=len(charged), total=len(self)),
                "message": "\n".join(lines),
                "type": "success" if charged and not skipped else "warning",
                "sticky": bool(skipped),
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def _psa_charge_refusal(self):
        """Why *Charge now* cannot work on this invoice, in words (the checks of ``psa_can_charge_now``)."""
        self.ensure_one()
        if self.move_type != "out_invoice" or self.state != "posted" or self.amount_residual <= 0:
            return self.env._("only a posted customer invoice with an amount due can be charged")
        if self.psa_attempt_ids.filtered(lambda a: a.state in ("pending", "unknown")):
            return self.env._("a charge is still open (rule: never charge twice)")
        mandate = self.env["psa.payment.mandate"].search(
            [
                *self.env["psa.payment.mandate"]._get_active_mandates_domain(self.company_id),
                ("partner_id", "=", self.commercial_partner_id.id),
            ],
            limit=1,
        )
        if not mandate:
            return self.env._("%(customer)s has no active auto-pay mandate", customer=self.commercial_partner_id.name)
        return self.env._(
            "%(due)s due is above the mandate maximum of %(cap)s per invoice",
            due=self.amount_residual,
            cap=mandate.max_amount,
        )
