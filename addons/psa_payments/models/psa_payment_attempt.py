import logging
import threading

import requests
from psycopg2.errors import LockNotAvailable

from odoo import Command, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, mute_logger

from odoo.addons.queue_job.exception import RetryableJobError

from ..tools import autopay, decline_reasons
from .payment_provider import PsaProviderUnreachableError

_logger = logging.getLogger(__name__)

OPEN_STATES = ("pending", "unknown")
# queue_job channel of the charge jobs (capacity in the server configuration, see the README "Scaling")
CHARGE_CHANNEL = "root.psa.payments"
# queue_job states of a job that has not finished yet
LIVE_JOB_STATES = ("wait_dependencies", "pending", "enqueued", "started")
RETRY_DAYS_PARAM = "psa_payments.retry_days"


class PsaPaymentAttempt(models.Model):
    _name = "psa.payment.attempt"
    _inherit = ["psa.reporting.mixin"]
    _description = "Auto-pay charge attempt"
    _order = "move_id, number desc"
    _rec_name = "idempotency_key"

    move_id = fields.Many2one("account.move", string="Invoice", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="move_id.company_id", store=True, index=True)
    partner_id = fields.Many2one(related="move_id.commercial_partner_id", store=True, string="Customer")
    mandate_id = fields.Many2one("psa.payment.mandate", required=True, ondelete="restrict", index=True)
    attempt_date = fields.Date(string="Date", required=True, default=fields.Date.context_today)
    number = fields.Integer(required=True, help="1 for the first charge of the invoice, 2 for the first retry...")
    idempotency_key = fields.Char(
        required=True,
        readonly=True,
        help="Sent with the charge: replaying it never charges twice.",
    )
    amount = fields.Monetary(currency_field="currency_id")
    currency_id = fields.Many2one("res.currency", required=True)
    state = fields.Selection(
        [("pending", "Pending"), ("done", "Paid"), ("failed", "Failed"), ("unknown", "Unknown")],
        required=True,
        default="pending",
        index=True,
    )
    provider_reason = fields.Char(help="What the provider said, or why the outcome is not known yet.")
    failure_reason = fields.Char(readonly=True, help="Why the charge failed, in plain words.")
    failure_code = fields.Char(readonly=True, help="The provider's code for the failure, e.g. expired_card.")
    failure_policy = fields.Selection(
        [
            (decline_reasons.RETRY, "Retried on schedule"),
            (decline_reasons.NEW_CARD, "New card needed"),
            (decline_reasons.CUSTOMER_ACTION, "Customer pays online"),
        ],
        readonly=True,
        help="What auto-pay does after this failure; it depends on the reason.",
    )
    transaction_id = fields.Many2one("payment.transaction", readonly=True, index="btree_not_null")
    provider_reference = fields.Char(related="transaction_id.provider_reference")
    next_retry_date = fields.Date(help="When a failed attempt is retried; empty after the last retry.")

    _sql_constraints = [
        ("number_unique", "UNIQUE(move_id, number)", "An invoice has one attempt per number."),
        ("key_unique", "UNIQUE(idempotency_key)", "Idempotency keys are unique."),
    ]

    def init(self):
        # Never charge twice: at most one open (pending or unknown) attempt per invoice, enforced by
        # PostgreSQL so that concurrent cron runs cannot both start a charge.
        self.env.cr.execute(
            SQL(
                "CREATE UNIQUE INDEX IF NOT EXISTS psa_payment_attempt_one_open_per_move "
                "ON psa_payment_attempt (move_id) WHERE state IN ('pending', 'unknown')"
            )
        )

    @api.ondelete(at_uninstall=False)
    def _unlink_except_recorded(self):
        if any(attempt.state != "failed" or attempt.transaction_id for attempt in self):
            raise UserError(self.env._("Charge attempts are kept for the record (rule: every charge is traceable)."))

    # ------------------------------------------------------------------
    # Sending
    # ------------------------------------------------------------------

    def _prepare_transaction_vals(self):
        """Hook for extensions: values of the off-session transaction that carries this attempt."""
        self.ensure_one()
        token = self.mandate_id.token_id
        return {
            "provider_id": token.provider_id.id,
            "payment_method_id": token.payment_method_id.id,
            "token_id": token.id,
            "operation": "offline",
            "amount": self.amount,
            "currency_id": self.currency_id.id,
            "partner_id": self.move_id.partner_id.id,
            "invoice_ids": [Command.set(self.move_id.ids)],
        }

    def _send(self):
        """Create each attempt's transaction and ask the provider to charge the token, in this process.

        Outside tests the pending attempt and its transaction are committed before the money moves, so a
        crash mid-request leaves an open attempt that the next run resolves instead of charging again.
        """
        self._psa_create_transactions()
        self._commit_if_not_testing()
        for attempt in self:
            attempt._psa_request_charge_safely()
            self._commit_if_not_testing()

    def _psa_create_transactions(self):
        """The off-session transaction of each attempt (draft: nothing is sent yet)."""
        transactions = self.env["payment.transaction"].sudo()
        for attempt in self.filtered(lambda a: not a.transaction_id):
            # One create per transaction: payment's `_check_token_is_active` reads `self.token_id` as a
            # singleton, so a batch with several tokens would fail.
            attempt.transaction_id = transactions.create(attempt._prepare_transaction_vals())

    def _psa_request_charge_safely(self):
        """Send the charge; an error after sending makes the outcome unknown (resolved before any retry)."""
        self.ensure_one()
        try:
            with self.env.cr.savepoint():
                self._request_charge()
        except Exception as error:  # noqa: BLE001 - one invoice must not stop the run
            # The money may have moved before the error: the outcome is unknown, not failed.
            _logger.warning("auto-pay attempt %s: %s", self.idempotency_key, error, exc_info=True)
            self.env.invalidate_all()
            self.write(
                {
                    "state": "unknown",
                    "provider_reason": self.env._(
                        "Error after sending the charge (%(error)s): resolved before any retry.", error=str(error)
                    ),
                }
            )

    # ------------------------------------------------------------------
    # Charge jobs (queue_job, channel root.psa.payments)
    # ------------------------------------------------------------------

    def _psa_enqueue_charges(self):
        """One queue job per attempt, on the payments channel, identified by the attempt's idempotency key.

        The attempts and their draft transactions are in the same transaction as the jobs: either all exist
        or none. Enqueuing an attempt whose job is still waiting returns that job (identity key).
        """
        for attempt in self:
            attempt.with_delay(
                channel=CHARGE_CHANNEL,
                identity_key=attempt.idempotency_key,
                description=self.env._(
                    "Auto-pay: charge %(invoice)s (attempt %(number)s)",
                    invoice=attempt.move_id.name,
                    number=attempt.number,
                ),
            )._psa_job_charge()

    def _psa_job_charge(self):
        """Job: charge this attempt once, whichever worker runs it and however often.

        The attempt's row is locked (another worker on it: the job is postponed, not counted as a retry) and
        its state read again: an attempt no longer pending (charged, failed, resolved by a webhook) sends
        nothing. A draft transaction is (re)sent with the attempt's idempotency key: when a worker died after
        sending, a provider with a replay window (Stripe) answers with the first outcome instead of charging
        again; a provider without one is never replayed, the attempt becomes unknown and is resolved by the
        provider's notification or status query, as after any lost answer.
        """
        self.ensure_one()
        try:
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                self.env.cr.execute(SQL("SELECT id FROM psa_payment_attempt WHERE id = %s FOR UPDATE NOWAIT", self.id))
        except LockNotAvailable as error:
            raise RetryableJobError(
                "auto-pay attempt being handled by another worker", seconds=10, ignore_retry=True
            ) from error
        self.invalidate_recordset()
        if not self.exists() or self.state != "pending":
            return f"nothing to do: attempt {self.idempotency_key} is {self.state or 'gone'}"
        transaction = self.transaction_id
        if transaction and transaction.state != "draft":
            # the provider's notification came first
            self._sync_from_transaction()
            return f"synchronised from the transaction: {self.state}"
        if not transaction:
            self._psa_create_transactions()
        elif self._psa_job_is_retry() and not transaction.provider_id._psa_replay_window_hours():
            self.write(
                {
                    "state": "unknown",
                    "provider_reason": self.env._(
                        "The charge job was interrupted and this provider cannot replay a charge safely: "
                        "resolved by its notification or a status query before any retry."
                    ),
                }
            )
            return f"attempt {self.idempotency_key} left unknown: interrupted, no replay"
        self._psa_request_charge_safely()
        return f"attempt {self.idempotency_key}: {self.state}"

    def _psa_job_is_retry(self):
        """Whether the running job already ran before (a worker died, or it was requeued by a person)."""
        uuid = self.env.context.get("job_uuid")
        if not uuid:
            return False
        # sudo: the job's own bookkeeping, read only
        job = self.env["queue.job"].sudo().search([("uuid", "=", uuid)], limit=1)
        return bool(job.retry)

    @api.model
    def _psa_attempts_with_live_job(self, attempts):
        """The attempts whose charge job has not finished yet (waiting in the queue or running)."""
        if not attempts:
            return attempts
        # sudo: the job queue is read to know what is still coming, nothing is shown
        jobs = (
            self.env["queue.job"]
            .sudo()
            .search([("identity_key", "in", attempts.mapped("idempotency_key")), ("state", "in", LIVE_JOB_STATES)])
        )
        keys = set(jobs.mapped("identity_key"))
        return attempts.filtered(lambda a: a.idempotency_key in keys)

    def _request_charge(self):
        self.ensure_one()
        transaction = self.transaction_id.with_context(psa_idempotency_key=self.idempotency_key)
        try:
            transaction._send_payment_request()
        except (PsaProviderUnreachableError, requests.exceptions.RequestException) as error:
            _logger.warning("auto-pay attempt %s: no answer from the provider", self.idempotency_key)
            self.write(
                {
                    "state": "unknown",
                    "provider_reason": self.env._(
                        "No answer from the provider (%(error)s): resolved by its webhook or a status query "
                        "before any retry.",
                        error=str(error),
                    ),
                }
            )
            return
        except (UserError, ValidationError) as error:
            transaction._set_error(str(error))
        if transaction.state == "draft":
            transaction._psa_on_answer_without_outcome()
        self._sync_from_transaction()

    @api.model
    def _get_stale_pending_domain(self, company):
        """Hook for extensions: pending attempts left without an outcome by an interrupted run."""
        return [
            ("state", "=", "pending"),
            ("company_id", "=", company.id),
            ("create_date", "<", fields.Datetime.subtract(fields.Datetime.now(), hours=1)),
        ]

    @api.model
    def _resolve_open_attempts(self, company):
        """Before any new charge: attempts whose outcome is not known are asked to the provider."""
        stale = self.search(self._get_stale_pending_domain(company))
        # a charge still waiting in the job queue is not stale: its job sends it
        stale -= self._psa_attempts_with_live_job(stale)
        stale.write(
            {
                "state": "unknown",
                "provider_reason": self.env._(
                    "No outcome recorded for an hour (interrupted run): asking the provider."
                ),
            }
        )
        self.search([("state", "=", "unknown"), ("company_id", "=", company.id)])._resolve_unknown()

    def _resolve_unknown(self):
        """Ask the provider what happened to attempts whose answer was lost; never charges twice.

        Past the provider's replay window (Stripe keeps idempotency keys for 24 hours) a charge whose provider
        reference is unknown is left to a person (its reason says so) rather than replayed.
        """
        now = fields.Datetime.now()
        for attempt in self.filtered(lambda a: a.state == "unknown"):
            transaction = attempt.transaction_id.with_context(psa_idempotency_key=attempt.idempotency_key)
            window = transaction.provider_id._psa_replay_window_hours()
            if (
                window
                and transaction.state in ("draft", "pending")
                and not transaction.provider_reference
                and attempt.create_date < fields.Datetime.subtract(now, hours=window)
            ):
                attempt.provider_reason = self.env._(
                    "Outcome still unknown after a day: check the payment with reference %(reference)s at the "
                    "provider before charging this invoice again.",
                    reference=transaction.reference,
                )
                continue
            try:
                with self.env.cr.savepoint():
                    if transaction.state in ("draft", "pending"):
                        transaction._psa_query_status()
                    attempt._sync_from_transaction(resolving=True)
            except (PsaProviderUnreachableError, requests.exceptions.RequestException):
                continue
            except Exception as error:  # noqa: BLE001 - one invoice must not stop the run
                _logger.warning("auto-pay attempt %s: %s", attempt.idempotency_key, error, exc_info=True)
                self.env.invalidate_all()
                attempt.provider_reason = self.env._("Status query failed: %(error)s", error=str(error))

    # ------------------------------------------------------------------
    # Outcome
    # ------------------------------------------------------------------

    def _sync_from_transaction(self, resolving=False):
        """Move open attempts to the state of their transaction (called on every transaction update)."""
        for attempt in self.filtered(lambda a: a.state in OPEN_STATES):
            transaction = attempt.transaction_id
            if transaction.state == "done":
                attempt._on_success()
            elif transaction.state in ("error", "cancel"):
                attempt._on_failure(
                    transaction.state_message or transaction.state, failure_code=transaction.psa_failure_code
                )
            elif resolving:
                attempt.provider_reason = self.env._(
                    "Still unknown: the provider reports %(state)s.", state=transaction.state
                )

    def _on_success(self):
        """The charge succeeded: record it on the attempt and the invoice, then let Odoo post the payment.

        The records come first: posting the payment takes the bank journal's next number, which PostgreSQL
        holds until the commit (the next charge job posting in that journal waits for it), so nothing is
        written after the posting that could be written before.
        """
        self.ensure_one()
        transaction = self.transaction_id
        reason = self.env._(
            "Charged %(amount)s %(currency)s: mandate %(mandate)s, attempt %(number)s, reference %(reference)s.",
            amount=self.amount,
            currency=self.currency_id.name,
            mandate=self.mandate_id.name,
            number=self.number,
            reference=transaction.provider_reference or transaction.reference,
        )
        self.write({"state": "done", "provider_reason": reason, "next_retry_date": False})
        self.move_id.write({"psa_autopay_note": reason})
        self.move_id.message_post(body=reason)
        if not transaction.is_post_processed:
            # their SQL runs now, not at the commit after the number is taken
            self.env.flush_all()
            transaction._post_process()

    def _on_failure(self, provider_message, failure_code=None):
        """Record why the charge failed in plain words and apply the policy of that reason.

        See ``tools/decline_reasons.py``: retry on schedule, ask for a new card (mandate suspended at once), or
        ask the customer to pay online (no retry, mandate kept).
        """
        self.ensure_one()
        move = self.move_id
        words, policy = decline_reasons.classify(failure_code)
        words = str(words)
        reason = self.env._(
            "%(words)s Provider: %(message)s", words=words, message=" ".join(str(provider_message).split())
        )
        retry_date = False
        if policy == decline_reasons.RETRY:
            retry_days = autopay.parse_retry_days(
                self.env["ir.config_parameter"].sudo().get_param(RETRY_DAYS_PARAM, "3,7")
            )
            failures = move.psa_attempt_ids.filtered(lambda a: a.state == "failed" and a.mandate_id == self.mandate_id)
            failures |= self
            first_failure = min(failures.mapped("attempt_date"))
            retry_date = autopay.next_retry_date(first_failure, len(failures), retry_days)
        self.write(
            {
                "state": "failed",
                "provider_reason": reason,
                "failure_reason": words,
                "failure_code": failure_code or False,
                "failure_policy": policy,
                "next_retry_date": retry_date,
            }
        )
        values = {"number": self.number, "reason": words}
        if policy == decline_reasons.NEW_CARD:
            note = self.env._(
                "Charge attempt %(number)s failed: %(reason)s No retry on this card: mandate suspended, the "
                "customer was asked to save a new card and got a pay link.",
                **values,
            )
            self._on_card_unusable(words)
        elif policy == decline_reasons.CUSTOMER_ACTION:
            note = self.env._(
                "Charge attempt %(number)s failed: %(reason)s No automatic retry: the customer got a link to pay "
                "online; the mandate stays active for the next invoices.",
                **values,
            )
        elif retry_date:
            note = self.env._(
                "Charge attempt %(number)s failed: %(reason)s Next try on %(date)s; the customer got a pay link.",
                date=retry_date,
                **values,
            )
        else:
            note = self.env._(
                "Charge attempt %(number)s failed: %(reason)s That was the last retry: mandate suspended, "
                "the salesperson has an activity; the customer got a pay link.",
                **values,
            )
            self._on_last_failure(words)
        move.write({"psa_autopay_note": note})
        move.message_post(body=note)
        if policy == decline_reasons.NEW_CARD:
            move._psa_send_new_card_email()
        else:
            move._psa_send_payment_link_email()

    def _on_card_unusable(self, reason):
        """Hook for extensions: the card cannot be charged any more; suspend the mandate and hand over."""
        self.ensure_one()
        move = self.move_id
        self.mandate_id.action_suspend(
            reason=self.env._(
                "Suspended automatically: %(reason)s (%(invoice)s). The customer was asked to save a new card; "
                "saving it moves this mandate to it and reactivates it.",
                reason=reason,
                invoice=move.name,
            )
        )
        self.mandate_id.new_card_needed = True
        self._schedule_handover_activity(
            self.env._("Auto-pay: new card needed"),
            self.env._(
                "%(invoice)s could not be charged: %(reason)s The mandate is suspended; when the customer saves a "
                "new card (portal), the mandate moves to it by itself. Follow up if nothing happens.",
                invoice=move.name,
                reason=reason,
            ),
        )

    def _on_last_failure(self, provider_reason):
        """Hook for extensions: after the last retry, suspend the mandate and hand over to a person."""
        self.ensure_one()
        move = self.move_id
        self.mandate_id.action_suspend(
            reason=self.env._(
                "Suspended automatically: %(invoice)s could not be charged after %(count)s attempts (%(reason)s).",
                invoice=move.name,
                count=self.number,
                reason=provider_reason,
            )
        )
        self._schedule_handover_activity(
            self.env._("Auto-pay failed: contact the customer"),
            self.env._(
                "%(invoice)s could not be charged after %(count)s attempts: %(reason)s The auto-pay mandate "
                "is suspended.",
                invoice=move.name,
                count=self.number,
                reason=provider_reason,
            ),
        )

    def _schedule_handover_activity(self, summary, note):
        """Hook for extensions: an activity for the invoice's salesperson (else the customer's, else the runner).

        One open at a time per invoice (a replayed outcome schedules nothing more); the charge cron marks it
        done once the invoice is paid or the customer's mandate is active again
        (``account.move._psa_close_handover_activities``).
        """
        self.ensure_one()
        move = self.move_id
        activity_type = self.env.ref("psa_payments.mail_activity_type_psa_autopay_handover")
        if move.activity_ids.filtered(lambda activity: activity.activity_type_id == activity_type):
            return
        move.activity_schedule(
            "psa_payments.mail_activity_type_psa_autopay_handover",
            summary=summary,
            note=note,
            user_id=(move.invoice_user_id or move.partner_id.user_id or self.env.user).id,
        )

    @api.model
    def _commit_if_not_testing(self):
        if not getattr(threading.current_thread(), "testing", False) and not self.env.registry.in_test_mode():
            self.env.cr.commit()  # pylint: disable=invalid-commit  # cron chunks, never in tests
