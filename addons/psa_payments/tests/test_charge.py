from datetime import date
from unittest.mock import patch

from freezegun import freeze_time

from odoo.tests import tagged

from odoo.addons.payment import utils as payment_utils

from .common import GOOD_CARD, LocalStripeCommon


@tagged("post_install", "-at_install")
class TestChargeDueInvoices(LocalStripeCommon):
    """The cron charges due invoices covered by an active mandate against localstripe, once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mandate = cls._create_mandate()

    def test_due_invoice_is_charged_and_reconciled(self):
        with freeze_time("2026-03-01"):
            invoice = self._create_invoice(250.0, date(2026, 3, 1), due_date=date(2026, 3, 31))
            self._run_cron()
            self.assertFalse(invoice.psa_attempt_ids, "not due yet: nothing charged")
        with freeze_time("2026-03-31"):
            self._run_cron()
        attempt = invoice.psa_attempt_ids
        self.assertEqual(len(attempt), 1)
        self.assertEqual(attempt.state, "done")
        self.assertEqual(attempt.amount, 250.0)
        self.assertTrue(self._paid(invoice), "the payment is posted and reconciled with the invoice")
        self.assertIn("attempt 1", invoice.psa_autopay_note)
        intent = self._stripe("GET", f"payment_intents/{attempt.transaction_id.provider_reference}")
        self.assertEqual(intent["status"], "succeeded")
        self.assertEqual(intent["amount"], payment_utils.to_minor_currency_units(250.0, invoice.currency_id))
        self.assertEqual(intent["customer"], self.token.provider_ref)
        self.assertEqual(intent["payment_method"], self.token.stripe_payment_method)

    def test_one_run_charges_several_customers(self):
        heron = self.env["res.partner"].create({"name": "Heron Legal", "is_company": True, "email": "ap@heron.example"})
        self._create_mandate(partner=heron, token=self._create_stripe_token(heron, GOOD_CARD))
        with freeze_time("2026-03-31"):
            kestrel_invoice = self._create_invoice(110.0, date(2026, 3, 1), due_date=date(2026, 3, 31))
            heron_invoice = self._create_invoice(220.0, date(2026, 3, 1), due_date=date(2026, 3, 31), partner=heron)
            self._run_cron()
        self.assertEqual(kestrel_invoice.psa_attempt_ids.state, "done")
        self.assertEqual(heron_invoice.psa_attempt_ids.state, "done")
        self.assertEqual(heron_invoice.psa_attempt_ids.transaction_id.token_id.partner_id, heron)
        self.assertTrue(self._paid(kestrel_invoice) and self._paid(heron_invoice))

    def test_rerun_charges_nothing_more(self):
        with freeze_time("2026-03-31"):
            invoice = self._create_invoice(90.0, date(2026, 3, 1), due_date=date(2026, 3, 31))
            self._run_cron()
            created = self._localstripe_stats()["created"]
            self._run_cron()
            self._run_cron()
        self.assertEqual(len(invoice.psa_attempt_ids), 1)
        self.assertEqual(self._localstripe_stats()["created"], created, "no second payment intent")

    def test_partial_payment_and_credit_note_reduce_the_charge(self):
        with freeze_time("2026-03-31"):
            invoice = self._create_invoice(300.0, date(2026, 3, 1), due_date=date(2026, 3, 31))
            self.env["account.payment.register"].with_context(
                active_model="account.move", active_ids=invoice.ids
            ).create({"amount": 100.0})._create_payments()
            credit_note = self._create_invoice(50.0, date(2026, 3, 15), post=False)
            credit_note.move_type = "out_refund"
            credit_note.action_post()
            invoice.js_assign_outstanding_line(
                credit_note.line_ids.filtered(lambda line: line.account_id.account_type == "asset_receivable").id
            )
            self.assertEqual(invoice.amount_residual, 150.0)
            self._run_cron()
        attempt = invoice.psa_attempt_ids
        self.assertEqual(attempt.amount, 150.0)
        intent = self._stripe("GET", f"payment_intents/{attempt.transaction_id.provider_reference}")
        self.assertEqual(intent["amount"], payment_utils.to_minor_currency_units(150.0, invoice.currency_id))
        self.assertTrue(self._paid(invoice))

    def test_cap_and_hold_are_respected(self):
        self.mandate.write({"trigger": "posting", "hold_days": 5, "max_amount": 1000.0})
        with freeze_time("2026-03-01"):
            small = self._create_invoice(400.0, date(2026, 3, 1), due_date=date(2026, 3, 31))
            large = self._create_invoice(1500.0, date(2026, 3, 1), due_date=date(2026, 3, 31))
            self._run_cron()
            self.assertFalse((small + large).psa_attempt_ids, "held for 5 days after posting")
        with freeze_time("2026-03-06"):
            self._run_cron()
        self.assertEqual(small.psa_attempt_ids.state, "done")
        self.assertFalse(large.psa_attempt_ids, "above the cap: never charged automatically")
        self.assertIn("above the mandate maximum", large.psa_autopay_note)
        self.assertFalse(self._paid(large))

    def test_invoices_without_active_mandate_are_left_alone(self):
        self.mandate.action_revoke()
        with freeze_time("2026-03-31"):
            invoice = self._create_invoice(90.0, date(2026, 3, 1), due_date=date(2026, 3, 31))
            self._run_cron()
        self.assertFalse(invoice.psa_attempt_ids)

    def test_interleaved_runs_charge_once(self):
        """Two runs that listed the same due invoice before either charged it: the second charges nothing."""
        moves = self.env["account.move"]
        mandates = self.env["psa.payment.mandate"].search(
            moves.env["psa.payment.mandate"]._get_active_mandates_domain(self.company)
        )
        with freeze_time("2026-03-31"):
            invoice = self._create_invoice(45.0, date(2026, 3, 1), due_date=date(2026, 3, 31))
            domain = moves._get_autopay_candidate_domain(self.company, mandates)
            listed_by_run_a = moves.search(domain)._psa_filter_chargeable(mandates)
            listed_by_run_b = moves.search(domain)._psa_filter_chargeable(mandates)
            self.assertIn(invoice, listed_by_run_a & listed_by_run_b)
            created = self._localstripe_stats()["created"]
            listed_by_run_a._psa_charge(mandates)
            self.assertFalse(listed_by_run_b._psa_charge(mandates))
        self.assertEqual(len(invoice.psa_attempt_ids), 1)
        self.assertEqual(self._localstripe_stats()["created"], created + 1)

    def test_run_with_a_stale_snapshot_is_refused_by_the_database(self):
        """Run A commits its pending attempt before charging, which releases its row lock; run B, whose
        REPEATABLE READ snapshot predates that commit, locks the invoice and does not see the attempt. Simulated
        by skipping B's re-read under lock: PostgreSQL refuses B's second open attempt, B skips that invoice,
        charges the others, and nothing is charged twice."""
        with freeze_time("2026-03-31"):
            taken = self._create_invoice(45.0, date(2026, 3, 1), due_date=date(2026, 3, 31))
            free = self._create_invoice(55.0, date(2026, 3, 1), due_date=date(2026, 3, 31))
            attempt_of_run_a = self.env["psa.payment.attempt"].create(taken._psa_prepare_attempt_vals(self.mandate))
            created = self._localstripe_stats()["created"]
            with patch.object(type(self.env["account.move"]), "_psa_lock_for_charge", lambda moves: moves):
                attempts_of_run_b = (taken + free)._psa_charge(self.mandate)
        self.assertEqual(attempts_of_run_b.move_id, free)
        self.assertEqual(attempts_of_run_b.state, "done")
        self.assertEqual(taken.psa_attempt_ids, attempt_of_run_a, "run A's attempt is the only one")
        self.assertEqual(attempt_of_run_a.state, "pending")
        self.assertEqual(self._localstripe_stats()["created"], created + 1, "only the free invoice was charged")
