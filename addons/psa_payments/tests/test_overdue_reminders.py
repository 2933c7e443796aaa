import smtplib
from datetime import date
from unittest.mock import patch

from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from .common import DemoProviderCommon

DUE = date(2026, 3, 2)


@tagged("post_install", "-at_install")
class TestOverdueReminders(DemoProviderCommon):
    """Northwind IT chases Kestrel Dental, who pays by bank transfer, 3, 10 and 30 days after the due date.

    The engine is OCA ``account_invoice_overdue_reminder`` (its reminder history and counters); the cron adds
    the schedule, the exclusions and exactly once per level.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.psa_reminder_days = "3,10,30"
        cls.customer.user_id = cls.salesperson
        with freeze_time("2026-02-01"):
            cls.invoice = cls._create_invoice(400.0, date(2026, 2, 1), due_date=DUE)
            cls.not_due = cls._create_invoice(150.0, date(2026, 2, 1), due_date=date(2026, 6, 30))

    def _run_reminders(self):
        return self.env["overdue.reminder.action"]._cron_psa_send_overdue_reminders(batch_size=10)

    def _actions(self, partner=None):
        return self.env["overdue.reminder.action"].search(
            [("commercial_partner_id", "=", (partner or self.customer).id), ("psa_level", ">", 0)], order="id"
        )

    def _last_activity(self, invoice):
        return self.env["mail.activity"].search(
            [("res_model", "=", "account.move"), ("res_id", "=", invoice.id)], order="id desc", limit=1
        )

    def _pay(self, invoice):
        self.env["account.payment.register"].with_context(active_model="account.move", active_ids=invoice.ids).create(
            {}
        )._create_payments()

    def test_levels_go_out_on_schedule_with_open_items_and_pay_link(self):
        with freeze_time("2026-03-04"):
            self.assertEqual(self._run_reminders(), 0, "2 days overdue: before the first level")
        with freeze_time("2026-03-05"):
            self._run_reminders()
        action = self._actions()
        self.assertEqual(len(action), 1)
        self.assertEqual(action.psa_level, 1)
        self.assertEqual(self.invoice.psa_reminder_level, 1)
        self.assertEqual(self.invoice.overdue_reminder_counter, 1, "the OCA counter follows")
        self.assertEqual(self.not_due.psa_reminder_level, 0, "not overdue: listed, not levelled")
        mail = action.mail_id
        self.assertEqual(mail.state, "outgoing")
        self.assertEqual(mail.recipient_ids, self.customer)
        self.assertIn(self.invoice.name, mail.body_html)
        self.assertIn(self.not_due.name, mail.body_html, "the customer's open items are all listed")
        self.assertIn(f"/my/invoices/{self.invoice.id}?access_token={self.invoice.access_token}", mail.body_html)
        self.assertIn("#portal_pay", mail.body_html)
        self.assertIn("level 1 of 3", self.invoice.psa_reminder_note)

        with freeze_time("2026-03-11"):
            self._run_reminders()
            self.assertEqual(len(self._actions()), 1, "9 days: level 2 is not due yet")
        with freeze_time("2026-03-12"):
            self._run_reminders()
        self.assertEqual(self._actions().mapped("psa_level"), [1, 2])
        self.assertFalse(self._last_activity(self.invoice).filtered(lambda a: "last overdue" in (a.summary or "")))
        with freeze_time("2026-04-01"):
            self._run_reminders()
        self.assertEqual(self._actions().mapped("psa_level"), [1, 2, 3])
        activity = self._last_activity(self.invoice)
        self.assertEqual(activity.user_id, self.salesperson, "the account manager calls after the last level")
        self.assertIn("last overdue reminder", activity.summary)
        with freeze_time("2026-06-01"):
            self._run_reminders()
        self.assertEqual(len(self._actions()), 3, "nothing after the last level")

    def test_missed_runs_send_the_reached_level_once(self):
        with freeze_time("2026-03-20"):
            self._run_reminders()
            self._run_reminders()
        action = self._actions()
        self.assertEqual(len(action), 1)
        self.assertEqual(action.reminder_ids.psa_level, 2, "18 days overdue: level 2, not levels 1 and 2")

    def test_rerun_and_second_worker_never_send_a_level_twice(self):
        with freeze_time("2026-03-05"):
            self.assertEqual(self._run_reminders(), 1)
            self.assertEqual(self._run_reminders(), 0)
        self.assertEqual(len(self._actions()), 1)
        mails = self.env["mail.mail"].search(
            [("model", "=", "overdue.reminder.action"), ("res_id", "=", self._actions().id)]
        )
        self.assertEqual(len(mails), 1)
        # a second worker that decided on an older snapshot: PostgreSQL refuses its (invoice, level)
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.env["account.invoice.overdue.reminder"].create(
                {"invoice_id": self.invoice.id, "counter": 9, "psa_level": 1}
            )
        # and the worker's own path gives up quietly, sending nothing
        with freeze_time("2026-03-05"):
            vals = self.env["overdue.reminder.action"]._psa_prepare_action_vals(
                self.company, self.customer, {self.invoice: 1}
            )
            self.assertFalse(self.env["overdue.reminder.action"]._psa_create_action(vals))
        self.assertEqual(len(self._actions()), 1)

    def test_reminders_stop_once_paid(self):
        with freeze_time("2026-03-05"):
            self._run_reminders()
        with freeze_time("2026-03-08"):
            self._pay(self.invoice)
        with freeze_time("2026-03-12"):
            self._run_reminders()
        self.assertEqual(len(self._actions()), 1, "paid: no level 2")
        self.assertTrue(self._paid(self.invoice))

    def test_customer_on_hold_is_not_chased(self):
        self.customer.write({"psa_billing_hold": True, "psa_billing_hold_reason": "insolvency talks"})
        with freeze_time("2026-03-12"):
            self._run_reminders()
        self.assertFalse(self._actions())
        self.assertIn("customer on hold (insolvency talks)", self.invoice.psa_reminder_note)

    def test_customer_with_a_disputed_invoice_is_not_chased(self):
        with self.assertRaises(ValidationError), self.env.cr.savepoint():
            self.not_due.psa_disputed = True
        with Form(self.not_due.with_user(self.billing_user)) as form:
            form.psa_disputed = True
            form.psa_dispute_reason = "hours on ticket 42 contested"
        with freeze_time("2026-03-12"):
            self._run_reminders()
        self.assertFalse(self._actions(), "never to a customer with a disputed invoice, even for another invoice")
        self.assertIn("is disputed (hours on ticket 42 contested)", self.invoice.psa_reminder_note)
        self.not_due.psa_disputed = False
        with freeze_time("2026-03-13"):
            self._run_reminders()
        self.assertEqual(self._actions().psa_level, 2, "dispute settled: chased again")

    def test_autopay_customer_is_not_chased_until_the_mandate_stops(self):
        mandate = self._create_mandate()
        with freeze_time("2026-03-12"):
            self._run_reminders()
        self.assertFalse(self._actions())
        self.assertIn("auto-pay charges it", self.invoice.psa_reminder_note)
        mandate.action_suspend(reason="card expired")
        with freeze_time("2026-03-13"):
            self._run_reminders()
        self.assertEqual(self._actions().psa_level, 2)

    def test_autopay_customer_is_chased_for_invoices_above_the_cap(self):
        self._create_mandate(max_amount=300.0)
        with freeze_time("2026-03-05"):
            self._run_reminders()
        self.assertEqual(self._actions().reminder_ids.invoice_id, self.invoice, "400 is above the 300 cap")

    def test_levels_are_per_company(self):
        self.company.psa_reminder_days = ""
        with freeze_time("2026-03-12"):
            self.assertEqual(self._run_reminders(), 0, "empty schedule: no automatic reminders")
        self.company.psa_reminder_days = "7"
        with freeze_time("2026-03-12"):
            self._run_reminders()
        self.assertEqual(self._actions().psa_level, 1)
        self.assertEqual(self._last_activity(self.invoice).user_id, self.salesperson, "one level: it is the last")
        with self.assertRaises(ValidationError), self.env.cr.savepoint():
            self.company.psa_reminder_days = "10,3"

    def test_refused_reminder_is_retried_not_lost(self):
        with freeze_time("2026-03-05 08:00:00"):
            self._run_reminders()
        mail = self._actions().mail_id
        refused = smtplib.SMTPRecipientsRefused({"ap@kestrel-dental.example": (550, b"mailbox unavailable")})
        mail_server = type(self.env["ir.mail_server"])
        # connect() is patched too: outside Odoo's own runner (pytest-odoo sets no current test) it would try a
        # real SMTP connection
        with (
            patch.object(mail_server, "connect", return_value=None),
            patch.object(mail_server, "send_email", side_effect=refused),
            mute_logger("odoo.addons.mail.models.mail_mail"),
        ):
            mail.send()
        self.assertEqual(mail.state, "exception")
        with freeze_time("2026-03-05 09:00:00"):
            self._run_reminders()
        self.assertEqual(mail.state, "outgoing", "queued again by the next run")
        self.assertEqual(self._actions().psa_mail_retries, 1)
        self.assertIn("refused by the mail server", self.invoice.psa_reminder_note)
        self.assertEqual(len(self._actions()), 1, "the same reminder, not a new one")
        # the mail server takes it this time
        with (
            patch.object(mail_server, "connect", return_value=None),
            patch.object(mail_server, "send_email", return_value="<reminder@psa.example>"),
        ):
            mail.send()
        self.assertEqual(mail.state, "sent")

    def test_refused_reminder_of_a_paid_invoice_is_cancelled(self):
        with freeze_time("2026-03-05"):
            self._run_reminders()
        mail = self._actions().mail_id
        mail.write({"state": "exception", "failure_reason": "550 mailbox unavailable"})
        self._pay(self.invoice)
        with freeze_time("2026-03-06"):
            self._run_reminders()
        self.assertEqual(mail.state, "cancel")
