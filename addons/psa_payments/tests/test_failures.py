from datetime import date

from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import AUTHENTICATION_CARD, DECLINED_CARD, GOOD_CARD, LocalStripeCommon

STRIPE_RESPONSE_TIMEOUT = 10  # Odoo's test runner raises every request timeout to at least 10 s


@tagged("post_install", "-at_install")
class TestChargeFailures(LocalStripeCommon):
    """Declines follow the retry schedule; lost answers are resolved before anything is charged again."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.osprey = cls.env["res.partner"].create(
            {"name": "Osprey Freight", "is_company": True, "email": "finance@osprey.example"}
        )
        cls.declining_token = cls._create_stripe_token(cls.osprey, DECLINED_CARD)
        cls.declining_mandate = cls._create_mandate(partner=cls.osprey, token=cls.declining_token)

    def test_decline_retries_on_schedule_then_suspends(self):
        with freeze_time("2026-03-31"):
            invoice = self._create_invoice(120.0, date(2026, 3, 1), partner=self.osprey, due_date=date(2026, 3, 31))
            created_before = self._localstripe_stats()["created"]
            self._run_cron()
        first = invoice.psa_attempt_ids
        self.assertEqual(first.state, "failed")
        self.assertIn("declined", first.provider_reason)
        self.assertEqual(first.next_retry_date, date(2026, 4, 3))
        self.assertNotIn(invoice.payment_state, ("paid", "in_payment"))
        mails = self._mails_to(self.osprey, invoice)
        self.assertEqual(len(mails), 1, "the customer gets a pay link after the failure")
        self.assertIn(f"/my/invoices/{invoice.id}", mails.body_html)

        with freeze_time("2026-04-02"):
            self._run_cron()
        self.assertEqual(len(invoice.psa_attempt_ids), 1, "no retry before the scheduled day")

        with freeze_time("2026-04-03"):
            self._run_cron()
        second = invoice.psa_attempt_ids.filtered(lambda a: a.number == 2)
        self.assertEqual(second.state, "failed")
        self.assertEqual(second.next_retry_date, date(2026, 4, 7), "+7 days after the first failure")
        self.assertEqual(self.declining_mandate.state, "active")

        with freeze_time("2026-04-07"):
            self._run_cron()
        third = invoice.psa_attempt_ids.filtered(lambda a: a.number == 3)
        self.assertEqual(third.state, "failed")
        self.assertFalse(third.next_retry_date)
        self.assertEqual(self.declining_mandate.state, "suspended")
        self.assertIn(invoice.name, self.declining_mandate.reason)
        activity = invoice.activity_ids
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.salesperson, "the account manager takes over")
        self.assertEqual(len(self._mails_to(self.osprey, invoice)), 3)

        with freeze_time("2026-04-30"):
            self._run_cron()
        self.assertEqual(len(invoice.psa_attempt_ids), 3)
        self.assertEqual(
            len(set(invoice.psa_attempt_ids.mapped("idempotency_key"))), 3, "one key per invoice and attempt"
        )
        self.assertEqual(self._localstripe_stats()["created"] - created_before, 3)
        self.assertEqual(len(invoice.activity_ids), 1, "the cron's reruns give no second activity")
        self.assertEqual(
            invoice.activity_ids.activity_type_id, self.env.ref("psa_payments.mail_activity_type_psa_autopay_handover")
        )
        # the account manager got the customer to pay: the next cron run marks the hand-over done
        with freeze_time("2026-05-02"):
            self.env["account.payment.register"].with_context(
                active_model="account.move", active_ids=invoice.ids
            ).create({})._create_payments()
            self.assertTrue(self._paid(invoice))
            self._run_cron()
        self.assertFalse(invoice.activity_ids, "resolved: the activity is marked done")
        self.assertTrue(invoice.message_ids.filtered(lambda m: "Resolved: the invoice is paid" in str(m.body)))

    def _charge_with_lost_answer(self):
        """A fresh customer (its own Stripe customer) whose charge lands but whose answer is lost."""
        partner = self.env["res.partner"].create(
            {"name": "Ibis Clinics", "is_company": True, "email": "ap@ibis.example"}
        )
        token = self._create_stripe_token(partner, GOOD_CARD)
        self._create_mandate(partner=partner, token=token)
        invoice = self._create_invoice(75.0, date.today(), due_date=date.today(), partner=partner)
        before = self._localstripe_stats()
        self._localstripe_delay_next_charge(STRIPE_RESPONSE_TIMEOUT + 1.5)
        self._run_cron()
        attempt = invoice.psa_attempt_ids
        self.assertEqual(attempt.state, "unknown")
        self.assertNotIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(self._localstripe_stats()["created"], before["created"] + 1, "Stripe did charge")
        return invoice, attempt, before

    def test_timeout_resolved_by_status_query_without_second_charge(self):
        invoice, attempt, before = self._charge_with_lost_answer()
        self._run_cron()
        self.assertEqual(attempt.state, "done")
        self.assertEqual(len(invoice.psa_attempt_ids), 1)
        invoice.invalidate_recordset()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        stats = self._localstripe_stats()
        self.assertEqual(stats["created"], before["created"] + 1, "still one payment intent")
        self.assertEqual(stats["replayed"], before["replayed"] + 1, "answered from the idempotency key")

    def test_timeout_resolved_by_webhook_without_second_charge(self):
        invoice, attempt, before = self._charge_with_lost_answer()
        [intent] = self._intents_for(attempt.transaction_id.reference, attempt.mandate_id.token_id)
        self.assertEqual(self._post_webhook("payment_intent.succeeded", intent, secret="whsec_forged").status_code, 403)
        self.assertEqual(attempt.state, "unknown", "a forged webhook changes nothing")
        self.assertEqual(self._post_webhook("payment_intent.succeeded", intent).status_code, 200)
        self.assertEqual(attempt.state, "done")
        invoice.invalidate_recordset()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self._run_cron()
        self.assertEqual(len(invoice.psa_attempt_ids), 1)
        self.assertEqual(self._localstripe_stats()["created"], before["created"] + 1)

    def test_one_open_attempt_per_invoice_in_database(self):
        invoice = self._create_invoice(60.0, date.today(), partner=self.osprey)
        values = {
            "move_id": invoice.id,
            "mandate_id": self.declining_mandate.id,
            "currency_id": invoice.currency_id.id,
            "amount": 60.0,
        }
        self.env["psa.payment.attempt"].create({**values, "number": 1, "idempotency_key": "k-1"})
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.env.cr.savepoint():
            self.env["psa.payment.attempt"].create({**values, "number": 2, "idempotency_key": "k-2"})
        # the cron does not start another charge while one is open
        self._run_cron()
        self.assertEqual(len(invoice.psa_attempt_ids), 1)

    def test_authentication_required_is_a_failure_with_pay_link(self):
        """The bank wants the customer present: no off-session retry, a pay link, the mandate stays active."""
        partner = self.env["res.partner"].create(
            {"name": "Wren Studio", "is_company": True, "email": "ap@wren.example"}
        )
        token = self._create_stripe_token(partner, AUTHENTICATION_CARD)
        mandate = self._create_mandate(partner=partner, token=token)
        with freeze_time("2026-03-31"):
            invoice = self._create_invoice(64.0, date(2026, 3, 1), partner=partner, due_date=date(2026, 3, 31))
            self._run_cron()
        attempt = invoice.psa_attempt_ids
        self.assertEqual(attempt.state, "failed")
        self.assertIn("authenticate", attempt.failure_reason)
        self.assertEqual(attempt.failure_policy, "customer_action")
        self.assertFalse(attempt.next_retry_date, "an off-session retry would ask for authentication again")
        self.assertEqual(mandate.state, "active", "the next invoices may go through")
        mails = self._mails_to(partner, invoice)
        self.assertEqual(len(mails), 1)
        self.assertIn(f"/my/invoices/{invoice.id}", mails.body_html)
        with freeze_time("2026-04-03"):
            self._run_cron()
        self.assertEqual(len(invoice.psa_attempt_ids), 1)

    def test_expired_card_asks_for_a_new_card_and_suspends(self):
        """A card saved last year has expired since: no retry of that card, the customer is asked for a new one."""
        partner = self.env["res.partner"].create(
            {"name": "Plover Labs", "is_company": True, "email": "ap@plover.example"}
        )
        token = self._create_stripe_token(partner, GOOD_CARD)
        mandate = self._create_mandate(partner=partner, token=token)
        self._localstripe_decline_card(token, "expired_card", "Your card has expired.", decline_code="expired_card")
        with freeze_time("2026-03-31"):
            invoice = self._create_invoice(140.0, date(2026, 3, 1), partner=partner, due_date=date(2026, 3, 31))
            created = self._localstripe_stats()["created"]
            self._run_cron()
        attempt = invoice.psa_attempt_ids
        self.assertEqual(attempt.state, "failed")
        self.assertEqual(attempt.failure_code, "expired_card")
        self.assertEqual(attempt.failure_reason, "The card has expired.")
        self.assertEqual(attempt.failure_policy, "new_card")
        self.assertIn("Your card has expired", attempt.provider_reason)
        self.assertFalse(attempt.next_retry_date)
        self.assertTrue(attempt.provider_reference, "Stripe's error carried the payment intent")
        self.assertEqual(mandate.state, "suspended")
        self.assertIn("The card has expired", mandate.reason)
        self.assertIn("new card", invoice.psa_autopay_note)
        mail = self._mails_to(partner, invoice)
        self.assertEqual(len(mail), 1)
        self.assertIn("/my/payment_method", mail.body_html)
        self.assertIn("The card has expired", mail.body_html)
        self.assertIn(f"/my/invoices/{invoice.id}", mail.body_html, "and a link to pay this invoice now")
        self.assertEqual(invoice.activity_ids.user_id, self.salesperson)
        with freeze_time("2026-04-07"):
            self._run_cron()
        self.assertEqual(len(invoice.psa_attempt_ids), 1, "the expired card is never tried again")
        self.assertEqual(self._localstripe_stats()["created"], created + 1)
        self.assertEqual(len(invoice.activity_ids), 1)
        # a person reactivates the mandate (the customer fixed the card): the hand-over is done
        mandate.action_activate()
        with freeze_time("2026-04-08"):
            self._run_cron()
        self.assertFalse(invoice.activity_ids, "the mandate is active again: the activity is marked done")

    def test_insufficient_funds_is_retried_on_schedule(self):
        partner = self.env["res.partner"].create({"name": "Tern Works", "is_company": True, "email": "ap@tern.example"})
        token = self._create_stripe_token(partner, GOOD_CARD)
        mandate = self._create_mandate(partner=partner, token=token)
        self._localstripe_decline_card(
            token, "card_declined", "Your card has insufficient funds.", decline_code="insufficient_funds"
        )
        with freeze_time("2026-03-31"):
            invoice = self._create_invoice(95.0, date(2026, 3, 1), partner=partner, due_date=date(2026, 3, 31))
            self._run_cron()
        attempt = invoice.psa_attempt_ids
        self.assertEqual(attempt.failure_code, "insufficient_funds")
        self.assertEqual(attempt.failure_reason, "The card has insufficient funds.")
        self.assertEqual(attempt.failure_policy, "retry")
        self.assertEqual(attempt.next_retry_date, date(2026, 4, 3))
        self.assertEqual(mandate.state, "active")
        self.assertIn("insufficient funds", invoice.psa_autopay_note)

    def test_interrupted_run_is_resolved_before_any_retry(self):
        """A run that died after opening its attempt: an hour later the next run asks Stripe, charges once."""
        self._create_mandate()
        invoice = self._create_invoice(33.0, date.today(), due_date=date.today())
        mandates = self.env["psa.payment.mandate"].search([("partner_id", "=", self.customer.id)])
        attempt = self.env["psa.payment.attempt"].create(invoice._psa_prepare_attempt_vals(mandates))
        transaction = self.env["payment.transaction"].create(attempt._prepare_transaction_vals())
        attempt.transaction_id = transaction
        created = self._localstripe_stats()["created"]
        self._run_cron()
        self.assertEqual(attempt.state, "pending", "a fresh open attempt is left alone")
        self.assertEqual(self._localstripe_stats()["created"], created)
        # the interrupted run had reached Stripe: the request it sent, with the attempt's idempotency key
        transaction.with_context(psa_idempotency_key=attempt.idempotency_key).provider_id._stripe_make_request(
            "payment_intents", payload=transaction._stripe_prepare_payment_intent_payload(), offline=True
        )
        self.env.cr.execute(
            "UPDATE psa_payment_attempt SET create_date = create_date - interval '2 hours' WHERE id = %s",
            [attempt.id],
        )
        attempt.invalidate_recordset()
        self._run_cron()
        self.assertEqual(attempt.state, "done")
        self.assertEqual(len(invoice.psa_attempt_ids), 1)
        self.assertEqual(self._localstripe_stats()["created"], created + 1, "charged exactly once")

    def test_unknown_for_a_day_is_left_to_a_person(self):
        """Past Stripe's 24-hour idempotency window a lost charge is not replayed: a person checks it."""
        self._create_mandate()
        invoice = self._create_invoice(41.0, date.today(), due_date=date.today())
        mandates = self.env["psa.payment.mandate"].search([("partner_id", "=", self.customer.id)])
        attempt = self.env["psa.payment.attempt"].create(invoice._psa_prepare_attempt_vals(mandates))
        attempt.write(
            {
                "transaction_id": self.env["payment.transaction"].create(attempt._prepare_transaction_vals()).id,
                "state": "unknown",
            }
        )
        self.env.cr.execute(
            "UPDATE psa_payment_attempt SET create_date = create_date - interval '25 hours' WHERE id = %s",
            [attempt.id],
        )
        attempt.invalidate_recordset()
        before = self._localstripe_stats()
        self._run_cron()
        self.assertEqual(attempt.state, "unknown")
        self.assertIn(attempt.transaction_id.reference, attempt.provider_reason)
        self.assertEqual(len(invoice.psa_attempt_ids), 1)
        self.assertEqual(self._localstripe_stats(), before, "nothing sent to Stripe")

    def test_lost_decline_resolved_by_webhook_keeps_its_reason(self):
        """The answer of a charge on an expired card is lost; Stripe's payment_failed webhook brings the reason."""
        partner = self.env["res.partner"].create(
            {"name": "Avocet Dental", "is_company": True, "email": "ap@avocet.example"}
        )
        token = self._create_stripe_token(partner, GOOD_CARD)
        mandate = self._create_mandate(partner=partner, token=token)
        self._localstripe_decline_card(token, "expired_card", "Your card has expired.", decline_code="expired_card")
        invoice = self._create_invoice(52.0, date.today(), due_date=date.today(), partner=partner)
        self._localstripe_delay_next_charge(STRIPE_RESPONSE_TIMEOUT + 1.5)
        self._run_cron()
        attempt = invoice.psa_attempt_ids
        self.assertEqual(attempt.state, "unknown")
        [intent] = self._intents_for(attempt.transaction_id.reference, token)
        self.assertEqual(intent["last_payment_error"]["decline_code"], "expired_card")
        self.assertEqual(self._post_webhook("payment_intent.payment_failed", intent).status_code, 200)
        self.assertEqual(attempt.state, "failed")
        self.assertEqual(attempt.failure_code, "expired_card")
        self.assertEqual(attempt.failure_policy, "new_card")
        self.assertEqual(mandate.state, "suspended")
        self.assertEqual(len(self._mails_to(partner, invoice)), 1)
