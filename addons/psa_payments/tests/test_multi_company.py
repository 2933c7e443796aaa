from datetime import date

from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common import DemoProviderCommon


@tagged("post_install", "-at_install")
class TestMultiCompany(DemoProviderCommon):
    """Two companies bill the same customer, each through its own provider; their staff see only their own
    mandates and attempts.

    Scenario: Northwind IT (the test company) and its subsidiary Northwind Cloud both bill Kestrel Dental, which
    saved a card with each of them.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.env["res.company"].create(
            {"name": "Northwind Cloud", "currency_id": cls.company.currency_id.id}
        )
        cls.env["account.chart.template"].try_loading("generic_coa", company=cls.company_b, install_demo=False)
        cls.provider_b = cls._create_demo_provider(cls.company_b)
        cls.token_b = cls._create_demo_token(cls.customer, "done", provider=cls.provider_b)
        cls.mandate_a = cls._create_mandate()
        cls.mandate_b = cls._create_mandate(token=cls.token_b, company=cls.company_b)
        cls.user_b = new_test_user(
            cls.env,
            login="psa_cloud_billing",
            groups="account.group_account_invoice",
            company_id=cls.company_b.id,
            company_ids=[cls.company_b.id],
        )

    def _charge_both(self):
        with freeze_time("2026-03-31"):
            invoice_a = self._create_invoice(100.0, date(2026, 3, 1), due_date=date(2026, 3, 31))
            invoice_b = self._create_invoice(
                200.0, date(2026, 3, 1), due_date=date(2026, 3, 31), company=self.company_b
            )
            self._run_cron()
        return invoice_a, invoice_b

    def test_cron_charges_each_company_with_its_provider(self):
        invoice_a, invoice_b = self._charge_both()
        self.assertEqual(invoice_a.psa_attempt_ids.mandate_id, self.mandate_a)
        self.assertEqual(invoice_b.psa_attempt_ids.mandate_id, self.mandate_b)
        transaction_a = invoice_a.psa_attempt_ids.transaction_id
        transaction_b = invoice_b.psa_attempt_ids.transaction_id
        self.assertEqual(transaction_a.provider_id, self.provider)
        self.assertEqual(transaction_b.provider_id, self.provider_b)
        self.assertTrue(self._paid(invoice_a) and self._paid(invoice_b))
        self.assertEqual(transaction_b.payment_id.company_id, self.company_b)
        self.assertEqual(transaction_b.payment_id.journal_id, self.provider_b.journal_id)
        self.assertEqual(transaction_b.payment_id.amount, 200.0)
        self.assertEqual(invoice_b.psa_attempt_ids.company_id, self.company_b)

    def test_token_of_another_company_is_refused(self):
        self.mandate_a.action_revoke()
        with self.assertRaisesRegex(UserError, "Incompatible companies"):
            self._create_mandate(token=self.token_b, company=self.company)

    def test_company_b_staff_see_only_their_mandates_and_attempts(self):
        invoice_a, invoice_b = self._charge_both()
        mandates = self.env["psa.payment.mandate"].with_user(self.user_b)
        self.assertEqual(mandates.search([("partner_id", "=", self.customer.id)]), self.mandate_b)
        attempts = self.env["psa.payment.attempt"].with_user(self.user_b)
        self.assertEqual(attempts.search([("partner_id", "=", self.customer.id)]), invoice_b.psa_attempt_ids)
        with self.assertRaises(AccessError):
            self.mandate_a.with_user(self.user_b).read(["name"])
        with self.assertRaises(AccessError):
            invoice_a.psa_attempt_ids.with_user(self.user_b).read(["state"])
