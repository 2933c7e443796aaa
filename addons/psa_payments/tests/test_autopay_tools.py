from datetime import date

from odoo.tests import BaseCase, tagged

from ..tools import autopay, decline_reasons


@tagged("post_install", "-at_install")
class TestAutopayTools(BaseCase):
    """Pure auto-pay rules: charge date, hold, retry schedule, cap, idempotency key."""

    def test_charge_date_follows_trigger_and_hold(self):
        invoice_date, due = date(2026, 3, 1), date(2026, 3, 31)
        self.assertEqual(autopay.first_charge_date("due_date", invoice_date, due), due)
        self.assertEqual(autopay.first_charge_date("posting", invoice_date, due), invoice_date)
        self.assertEqual(autopay.first_charge_date("posting", invoice_date, due, hold_days=5), date(2026, 3, 6))
        # a hold longer than the terms wins over the due date
        self.assertEqual(autopay.first_charge_date("due_date", invoice_date, due, hold_days=45), date(2026, 4, 15))

    def test_retry_schedule(self):
        first = date(2026, 3, 31)
        days = autopay.parse_retry_days(" 7, 3,3, -1")
        self.assertEqual(days, (3, 7))
        self.assertEqual(autopay.next_retry_date(first, 1, days), date(2026, 4, 3))
        self.assertEqual(autopay.next_retry_date(first, 2, days), date(2026, 4, 7))
        self.assertIsNone(autopay.next_retry_date(first, 3, days))
        self.assertEqual(autopay.parse_retry_days("soon"), autopay.DEFAULT_RETRY_DAYS)

    def test_cap_refuses_whole_invoice(self):
        self.assertEqual(autopay.amount_to_charge(80.0, cap=100.0), (80.0, None))
        self.assertEqual(autopay.amount_to_charge(120.0, cap=100.0), (0.0, "above_cap"))
        self.assertEqual(autopay.amount_to_charge(120.0), (120.0, None))
        self.assertEqual(autopay.amount_to_charge(0.0), (0.0, "nothing_due"))

    def test_idempotency_key_is_stable_per_invoice_and_attempt(self):
        key = autopay.idempotency_key("0123456789abcdef", 42, 1)
        self.assertEqual(key, autopay.idempotency_key("0123456789abcdef", 42, 1))
        self.assertNotEqual(key, autopay.idempotency_key("0123456789abcdef", 42, 2))
        self.assertNotEqual(key, autopay.idempotency_key("0123456789abcdef", 43, 1))
        self.assertNotEqual(key, autopay.idempotency_key("fedcba9876543210", 42, 1))

    def test_decline_reasons_choose_the_policy(self):
        words, policy = decline_reasons.classify("expired_card")
        self.assertEqual((str(words), policy), ("The card has expired.", decline_reasons.NEW_CARD))
        self.assertEqual(decline_reasons.classify("stolen_card")[1], decline_reasons.NEW_CARD)
        self.assertEqual(decline_reasons.classify(" Insufficient_Funds ")[1], decline_reasons.RETRY)
        self.assertEqual(decline_reasons.classify("authentication_required")[1], decline_reasons.CUSTOMER_ACTION)
        # no code, or one we do not know: a bounded retry that ends with a person
        self.assertEqual(decline_reasons.classify(None), decline_reasons.UNKNOWN)
        self.assertEqual(decline_reasons.classify("something_new")[1], decline_reasons.RETRY)
