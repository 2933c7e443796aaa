import logging
from collections import defaultdict

from psycopg2 import IntegrityError
from psycopg2.errors import LockNotAvailable, SerializationFailure

from odoo import Command, api, fields, models
from odoo.tools import SQL, mute_logger, split_every

from ..tools import reminders

_logger = logging.getLogger(__name__)

# a reminder the mail server refused is put back in the queue this many times, then left to a person
REMINDER_MAIL_MAX_RETRIES = 5


class OverdueReminderAction(models.Model):
    _inherit = "overdue.reminder.action"

    psa_level = fields.Integer(
        string="Automatic level",
        readonly=True,
        help="The highest level of the company's schedule this automatic reminder sent (0: sent by hand).",
    )
    psa_mail_retries = fields.Integer(
        string="E-mail retries",
        readonly=True,
        help="How many times the reminder e-mail was queued again after the mail server refused it.",
    )

    # ------------------------------------------------------------------
    # Cron
    # ------------------------------------------------------------------

    def _psa_lock_or_skip(self, table, ids):
        """Lock these rows for this run and return the ids locked; rows another run holds, or changed since this
        run's snapshot (Odoo's transactions are REPEATABLE READ), are left to that run.

        Losing that race is the expected outcome of two runs at once: the failed query is not logged
        (``log_exceptions=False``; ``mute_logger`` is not thread-safe between two requests of one server).
        """
        if not ids:
            return []
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    SQL(
                        "SELECT id FROM %s WHERE id IN %s FOR UPDATE SKIP LOCKED",
                        SQL.identifier(table),
                        tuple(ids),
                    ),
                    log_exceptions=False,
                )
                return [row[0] for row in self.env.cr.fetchall()]
        except (SerializationFailure, LockNotAvailable):
            _logger.info("overdue reminders: %s %s are handled by another run, skipped", table, list(ids))
            return []

    @api.model
    def _cron_psa_send_overdue_reminders(self, batch_size=50):
        """Send the overdue reminders due today, company by company, one e-mail per customer, in chunks.

        Idempotent: each (invoice, level) is recorded once (PostgreSQL unique constraint), the invoices are
        locked while their reminder is recorded, and a rerun finds the levels already sent.
        """
        done = processed = 0
        for company in self.env["res.company"].search([]):
            actions = self.with_company(company)
            actions._psa_retry_refused_mails(company)
            level_days = company._psa_reminder_level_days()
            if not level_days:
                continue
            due_by_partner = actions._psa_get_due_reminders(company, level_days)
            partners = list(due_by_partner)
            for chunk in split_every(batch_size, partners):
                for partner in chunk:
                    if actions._psa_send_partner_reminder(company, partner, due_by_partner[partner], level_days):
                        done += 1
                processed += len(chunk)
                self.env["ir.cron"]._notify_progress(done=processed, remaining=max(len(partners) - processed, 0))
                self.env["account.move"]._psa_commit_if_not_testing()
        return done

    @api.model
    def _psa_get_due_reminders(self, company, level_days):
        """``{customer: invoices}``: the invoices that reached a level not sent yet, refusals noted on the rest."""
        moves_model = self.env["account.move"]
        candidates = moves_model.search(moves_model._psa_get_reminder_candidate_domain(company, level_days[0]))
        refusals = candidates._psa_reminder_refusals(company)
        by_note = defaultdict(list)
        for move_id, note in refusals.items():
            by_note[note].append(move_id)
        for note, move_ids in by_note.items():
            to_note = moves_model.browse(move_ids).filtered(lambda m, note=note: m.psa_reminder_note != note)
            locked = moves_model.browse(self._psa_lock_or_skip("account_move", to_note.ids))
            locked._psa_write_reminder_note(note)
        today = fields.Date.context_today(self)
        due = defaultdict(lambda: moves_model)
        for move in candidates.filtered(lambda m: m.id not in refusals):
            days_overdue = (today - move.invoice_date_due).days
            if reminders.new_level(days_overdue, level_days, move.psa_reminder_level):
                due[move.commercial_partner_id] |= move
        return due

    def _psa_send_partner_reminder(self, company, partner, moves, level_days):
        """Record and queue one reminder e-mail for the customer's invoices that reached a new level.

        Returns the reminder action, or an empty recordset when another run is sending it (its invoices are
        locked, or it recorded the same levels first).
        """
        moves = self._psa_lock_invoices(moves)
        today = fields.Date.context_today(self)
        levels = {}
        for move in moves:
            if move.payment_state not in ("not_paid", "partial") or move.amount_residual <= 0:
                continue
            level = reminders.new_level((today - move.invoice_date_due).days, level_days, move.psa_reminder_level)
            if level:
                levels[move] = level
        if not levels:
            return self.browse()
        action = self._psa_create_action(self._psa_prepare_action_vals(company, partner, levels))
        if not action:
            return action
        action._psa_queue_mail()
        action._psa_log_and_escalate(levels, level_days)
        return action

    def _psa_lock_invoices(self, moves):
        """Lock the invoices' rows; rows another run holds, or changed since this run's snapshot, are left to it."""
        locked = moves.browse(self._psa_lock_or_skip("account_move", moves.ids))
        # another run may have reminded them between our search and the lock: read again
        locked.invalidate_recordset(["psa_reminder_level", "payment_state", "amount_residual"])
        return locked

    def _psa_prepare_action_vals(self, company, partner, levels):
        """Hook for extensions: the reminder action for ``{invoice: level}`` of one customer."""
        contact = self.env["res.partner"].browse(partner.address_get(["invoice"])["invoice"])
        return {
            "commercial_partner_id": partner.id,
            "partner_id": contact.id,
            "company_id": company.id,
            "reminder_type": "mail",
            "psa_level": max(levels.values()),
            "reminder_ids": [
                Command.create(
                    {"invoice_id": move.id, "counter": move.overdue_reminder_counter + 1, "psa_level": level}
                )
                for move, level in levels.items()
            ],
        }

    def _psa_create_action(self, vals):
        """Create the action; a run that recorded one of its (invoice, level) first wins (unique constraint)."""
        try:
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                return self.create(vals)
        except (IntegrityError, SerializationFailure):
            self.env.invalidate_all()  # the cache may still hold the rolled-back rows
            _logger.info("overdue reminders: customer %s was reminded by another run, skipped", vals["partner_id"])
            return self.browse()

    def _psa_queue_mail(self):
        """Queue the reminder e-mail (sent by Odoo's mail queue; kept, so a refusal can be retried)."""
        template = self.env.ref("psa_payments.mail_template_overdue_reminder")
        for action in self:
            mail_id = template.send_mail(action.id, email_layout_xmlid="mail.mail_notification_light")
            action.mail_id = mail_id

    def _psa_log_and_escalate(self, levels, level_days):
        """Say on each invoice which level went out; after the last level, an activity for the account manager."""
        self.ensure_one()
        last_level = len(level_days)
        for move, level in levels.items():
            move._psa_write_reminder_note(
                self.env._(
                    "Overdue reminder level %(level)s of %(levels)s (%(days)s days after the due date) e-mailed to "
                    "%(email)s.",
                    level=level,
                    levels=last_level,
                    days=level_days[level - 1],
                    email=self.partner_id.email or self.partner_id.display_name,
                )
            )
            if level == last_level:
                manager = move.commercial_partner_id.user_id or move.invoice_user_id or self.user_id
                move.activity_schedule(
                    "mail.mail_activity_data_todo",
                    user_id=manager.id,
                    summary=self.env._("Call the customer: last overdue reminder sent"),
                    note=self.env._(
                        "%(invoice)s is %(days)s days overdue and the last automatic reminder went out: "
                        "reminders stop here.",
                        invoice=move.name,
                        days=level_days[level - 1],
                    ),
                )

    # ------------------------------------------------------------------
    # Refused e-mails
    # ------------------------------------------------------------------

    @api.model
    def _psa_retry_refused_mails(self, company):
        """Queue again the reminder e-mails the mail server refused; cancel those whose invoices are paid."""
        refused = self.search(
            [
                ("company_id", "=", company.id),
                ("psa_level", ">", 0),
                ("mail_id.state", "=", "exception"),
                ("psa_mail_retries", "<", REMINDER_MAIL_MAX_RETRIES),
            ]
        )
        locked = self.browse(self._psa_lock_or_skip("overdue_reminder_action", refused.ids))
        for action in locked:
            action._psa_retry_refused_mail()

    def _psa_retry_refused_mail(self):
        """Queue the refused e-mail again, or cancel it when its invoices are paid meanwhile."""
        self.ensure_one()
        action = self
        invoices = action.reminder_ids.invoice_id
        if all(move.payment_state not in ("not_paid", "partial") for move in invoices):
            action.mail_id.sudo().cancel()  # sudo: mail.mail is technical; only this reminder's e-mail
            return
        action.mail_id.sudo().mark_outgoing()  # sudo: same e-mail again, nothing else changes
        action.psa_mail_retries += 1
        invoices = invoices.browse(self._psa_lock_or_skip("account_move", invoices.ids))
        invoices._psa_write_reminder_note(
            self.env._(
                "Overdue reminder e-mail refused by the mail server (%(reason)s): queued again, try %(attempt)s of "
                "%(max)s.",
                reason=action.mail_id.sudo().failure_reason or self.env._("no reason given"),
                attempt=action.psa_mail_retries,
                max=REMINDER_MAIL_MAX_RETRIES,
            )
        )

    # ------------------------------------------------------------------
    # Content of the e-mail
    # ------------------------------------------------------------------

    def _psa_open_items(self):
        """The customer's open invoices in the action's company, oldest due first (for the e-mail)."""
        self.ensure_one()
        return self.env["account.move"].search(
            [
                ("company_id", "=", self.company_id.id),
                ("commercial_partner_id", "=", self.commercial_partner_id.id),
                ("move_type", "=", "out_invoice"),
                ("state", "=", "posted"),
                ("payment_state", "in", ("not_paid", "partial")),
                ("amount_residual", ">", 0),
            ],
            order="invoice_date_due, id",
        )
