from datetime import date

from freezegun import freeze_time

from odoo.tests import Form, tagged

from .common import DemoProviderCommon


@tagged("post_install", "-at_install")
class TestDemoProviderFlows(DemoProviderCommon):
    """Mandate, due-date charge, decline with retries, cap and hold with ``payment_demo``: no Stripe involved."""

    def test_billing_user_creates_mandate_from_demo_token(self):
        form = Form(self.env["psa.payment.mandate"].with_user(self.billing_user))
        form.partner_id = self.customer
        form.token_id = self.token
        mandate = form.save()
        self.assertEqual(mandate.state, "active", "no webhook secret is asked of a provider that has none")
        self.assertEqual(mandate.provider_id, self.provider)

    def test_due_invoice_is_charged_paid_and_reconciled(self):
        self._create_mandate()
        with freeze_time("2026-03-01"):
            invoice = self._create_invoice(250.0, date(2026, 3, 1), due_date=date(2026, 3, 31))
            self._run_cron()
            self.assertFalse(invoice.psa_attempt_ids, "not due yet")
        with freeze_time("2026-03-31"):
            self._run_cron()
        attempt = invoice.psa_attempt_ids
        self.assertEqual(attempt.state, "done")
        self.assertEqual(attempt.transaction_id.provider_id, self.provider)
        self.assertTrue(self._paid(invoice))
        payment = attempt.transaction_id.payment_id
        self.assertEqual(payment.amount, 250.0)
        self.assertIn(invoice, payment.reconciled_invoice_ids, "the payment is reconciled with the invoice")
        self.assertIn("attempt 1", invoice.psa_autopay_note)

    def test_partial_payment_and_credit_note_reduce_the_charge(self):
        self._create_mandate()
        with freeze_time("2026-03-31"):
            invoice = self._create_invoice(300.0, date(2026, 3, 1), due_date=date(2026, 3, 31))
            self.env["account.payment.register"].with_context(
                active_model="account.move", active_ids=invoice.ids
            ).create({"amount": 120.0})._create_payments()
            credit_note = self._create_invoice(30.0, date(2026, 3, 15), post=False)
            credit_note.move_type = "out_refund"
            credit_note.action_post()
            invoice.js_assign_outstanding_line(
                credit_note.line_ids.filtered(lambda line: line.account_id.account_type == "asset_receivable").id
            )
            self._run_cron()
        attempt = invoice.psa_attempt_ids
        self.assertEqual(attempt.amount, 150.0)
        self.assertEqual(attempt.transaction_id.amount, 150.0)
        self.assertTrue(self._paid(invoice))

    def test_decline_retries_on_schedule_with_email_then_suspends(self):
        osprey = self.env["res.partner"].create(
            {"name": "Osprey Freight", "is_company": True, "email": "finance@osprey.example"}
        )
        mandate = self._create_mandate(partner=osprey, token=self._create_demo_token(osprey, "error"))
        with freeze_time("2026-03-31"):
            invoice = self._create_invoice(120.0, date(2026, 3, 1), partner=osprey, due_date=date(2026, 3, 31))
            self._run_cron()
        first = invoice.psa_attempt_ids
        self.assertEqual(first.state, "failed")
        self.assertEqual(first.failure_policy, "retry")
        self.assertIn("demo payment status", first.provider_reason, "the provider's own words are kept")
        self.assertEqual(first.next_retry_date, date(2026, 4, 3))
        mails = self._mails_to(osprey, invoice)
        self.assertEqual(len(mails), 1)
        self.assertIn(f"/my/invoices/{invoice.id}", mails.body_html)
        with freeze_time("2026-04-02"):
            self._run_cron()
        self.assertEqual(len(invoice.psa_attempt_ids), 1)
        with freeze_time("2026-04-03"):
            self._run_cron()
        with freeze_time("2026-04-07"):
            self._run_cron()
        self.assertEqual(invoice.psa_attempt_ids.mapped("state"), ["failed"] * 3)
        self.assertEqual(mandate.state, "suspended")
        self.assertEqual(invoice.activity_ids.user_id, self.salesperson)
        self.assertEqual(len(self._mails_to(osprey, invoice)), 3)
        self.assertFalse(self._paid(invoice))

    def test_cap_and_hold_are_respected(self):
        self._create_mandate(trigger="posting", hold_days=5, max_amount=1000.0)
        with freeze_time("2026-03-01"):
            small = self._create_invoice(400.0, date(2026, 3, 1), due_date=date(2026, 3, 31))
            large = self._create_invoice(1500.0, date(2026, 3, 1), due_date=date(2026, 3, 31))
            self._run_cron()
            self.assertFalse((small + large).psa_attempt_ids, "held for 5 days after posting")
        with freeze_time("2026-03-06"):
            self._run_cron()
        self.assertEqual(small.psa_attempt_ids.state, "done")
        self.assertTrue(self._paid(small))
        self.assertFalse(large.psa_attempt_ids)
        self.assertIn("above the mandate maximum", large.psa_autopay_note)

    def test_charge_now_from_the_invoice(self):
        self._create_mandate()
        invoice = self._create_invoice(80.0, date.today(), due_date=date(2099, 1, 1))
        invoice.with_user(self.billing_user).action_psa_charge_now()
        self.assertEqual(invoice.psa_attempt_ids.state, "done")
        self.assertTrue(self._paid(invoice))

    def test_pending_charge_waits_for_the_provider_notification(self):
        """A provider that answers "pending": nothing is charged again until its notification settles it."""
        heron = self.env["res.partner"].create({"name": "Heron Legal", "is_company": True, "email": "ap@heron.example"})
        self._create_mandate(partner=heron, token=self._create_demo_token(heron, "pending"))
        with freeze_time("2026-03-31"):
            invoice = self._create_invoice(70.0, date(2026, 3, 1), partner=heron, due_date=date(2026, 3, 31))
            self._run_cron()
            attempt = invoice.psa_attempt_ids
            self.assertEqual(attempt.state, "pending")
            self._run_cron()
        self.assertEqual(invoice.psa_attempt_ids, attempt, "one open attempt: no second charge")
        attempt.transaction_id.action_demo_set_done()  # the provider's notification
        self.assertEqual(attempt.state, "done")
        self.assertTrue(self._paid(invoice))
