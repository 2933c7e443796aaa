import re
from datetime import timedelta

from odoo.tests import new_test_user, tagged

from .common import GOOD_CARD, LocalStripeCommon

TERMS = "Northwind IT charges each invoice to your card on its due date. Revoke any time in the portal."


@tagged("post_install", "-at_install")
class TestPortalEnrolment(LocalStripeCommon):
    """Kim saves a card in the portal and turns auto-pay on herself; when the card expires, saving a new one
    moves the mandate to it. No staff step, against localstripe."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.write({"psa_autopay_terms": TERMS, "psa_autopay_max_amount": 500.0, "psa_autopay_hold_days": 2})
        cls.contact = cls.env["res.partner"].create(
            {"name": "Kim Accounts", "parent_id": cls.customer.id, "email": "kim@kestrel-dental.example"}
        )
        new_test_user(cls.env, login="kestrel_enrol", groups="base.group_portal", partner_id=cls.contact.id)
        cls.kim_card = cls._create_stripe_token(cls.contact, GOOD_CARD)

    def _csrf(self, html):
        return re.search(r'(?:name="csrf_token" value=|csrf_token: )"([^"]+)"', html).group(1)

    def _mandate(self):
        return self.env["psa.payment.mandate"].search([("partner_id", "=", self.customer.id)])

    def test_customer_enrols_and_is_charged_without_staff(self):
        self.authenticate("kestrel_enrol", "kestrel_enrol")
        page = self.url_open("/my/autopay").text
        self.assertIn(TERMS, page)
        self.assertIn(self.kim_card.display_name, page)
        self.assertIn("500.00", page, "the customer sees the maximum per invoice")
        self.assertIn("not before 2 days after the invoice date", page, "and the hold")
        csrf = self._csrf(page)
        refused = self.url_open("/my/autopay/enrol", data={"csrf_token": csrf, "token_id": self.kim_card.id})
        self.assertEqual(refused.status_code, 400)
        self.assertIn("accept", refused.json()["error"])
        self.assertFalse(self._mandate(), "nothing written when refused")
        response = self.url_open(
            "/my/autopay/enrol", data={"csrf_token": csrf, "token_id": self.kim_card.id, "accept_terms": "on"}
        )
        self.assertEqual(response.status_code, 200)
        mandate = self._mandate()
        self.assertEqual(mandate.state, "active")
        self.assertEqual(mandate.token_id, self.kim_card)
        self.assertEqual((mandate.max_amount, mandate.hold_days, mandate.trigger), (500.0, 2, "due_date"))
        self.assertEqual(mandate.terms_accepted, TERMS)
        self.assertEqual(mandate.terms_accepted_by.login, "kestrel_enrol")
        self.assertTrue(
            any("enrolled in auto-pay from the portal" in body for body in mandate.message_ids.mapped("body"))
        )
        again = self.url_open(
            "/my/autopay/enrol", data={"csrf_token": csrf, "token_id": self.kim_card.id, "accept_terms": "on"}
        )
        self.assertEqual(again.status_code, 409, "one mandate per customer")
        today = self._today()
        invoice = self._create_invoice(120.0, today - timedelta(days=5), due_date=today)
        self._run_cron()
        self.assertTrue(self._paid(invoice), "charged on the card Kim enrolled")

    def test_someone_elses_card_or_no_terms_is_refused(self):
        other = self.env["res.partner"].create({"name": "Heron Legal", "is_company": True, "email": "ap@heron.example"})
        other_card = self._create_stripe_token(other, GOOD_CARD)
        self.authenticate("kestrel_enrol", "kestrel_enrol")
        csrf = self._csrf(self.url_open("/my/autopay").text)
        response = self.url_open(
            "/my/autopay/enrol", data={"csrf_token": csrf, "token_id": other_card.id, "accept_terms": "on"}
        )
        self.assertEqual(response.status_code, 404)
        self.assertIn("error", response.json())
        self.company.psa_autopay_terms = False
        self.assertNotIn("Turn on auto-pay", self.url_open("/my/autopay").text, "no terms: no portal enrolment")
        response = self.url_open(
            "/my/autopay/enrol", data={"csrf_token": csrf, "token_id": self.kim_card.id, "accept_terms": "on"}
        )
        self.assertEqual(response.status_code, 404)
        self.assertFalse(self._mandate())

    def test_new_card_replaces_an_expired_one_and_reactivates(self):
        mandate = self._create_mandate(token=self.kim_card)
        self._localstripe_decline_card(
            self.kim_card, "expired_card", "Your card has expired.", decline_code="expired_card"
        )
        today = self._today()
        invoice = self._create_invoice(140.0, today - timedelta(days=30), due_date=today)
        self._run_cron()
        self.assertEqual(mandate.state, "suspended")
        self.assertTrue(mandate.new_card_needed)
        self.assertFalse(self._paid(invoice))
        # what Odoo's payment form creates when Kim saves her new card in the portal
        new_card = self._create_stripe_token(self.contact, GOOD_CARD)
        self.assertEqual(mandate.token_id, new_card)
        self.assertEqual(mandate.state, "active")
        self.assertFalse(mandate.new_card_needed)
        self.assertIn("saved a new card", mandate.reason)
        self.assertTrue(any("replaces" in body for body in mandate.message_ids.mapped("body")), "said in the chatter")
        self._run_cron()
        self.assertTrue(self._paid(invoice), "the invoice the expired card could not pay is charged on the new one")
        self.assertEqual(len(invoice.psa_attempt_ids), 2)

    def test_new_card_does_not_reactivate_a_mandate_suspended_by_staff(self):
        mandate = self._create_mandate(token=self.kim_card)
        mandate.action_suspend(reason="customer asked to pause")
        self._create_stripe_token(self.contact, GOOD_CARD)
        self.assertEqual(mandate.state, "suspended")
        self.assertEqual(mandate.token_id, self.kim_card)
