from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, new_test_user, tagged

from .common import DemoProviderCommon


@tagged("post_install", "-at_install")
class TestPortalStatement(DemoProviderCommon, HttpCase):
    """Kim, of Kestrel Dental, opens her statement: open and overdue invoices, what auto-pay charges and when,
    a pay button per invoice; Heron Legal's portal user sees none of it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        today = cls._today()
        cls.overdue = cls._create_invoice(400.0, today - timedelta(days=40), due_date=today - timedelta(days=10))
        cls.upcoming = cls._create_invoice(150.0, today - timedelta(days=5), due_date=today + timedelta(days=25))
        cls.paid = cls._create_invoice(90.0, today - timedelta(days=5))
        cls.env["account.payment.register"].with_context(active_model="account.move", active_ids=cls.paid.ids).create(
            {}
        )._create_payments()
        contact = cls.env["res.partner"].create(
            {"name": "Kim Accounts", "parent_id": cls.customer.id, "email": "kim@kestrel-dental.example"}
        )
        new_test_user(cls.env, login="kestrel_statement", groups="base.group_portal", partner_id=contact.id)
        cls.other = cls.env["res.partner"].create({"name": "Heron Legal", "is_company": True})
        cls.other_invoice = cls._create_invoice(777.0, today - timedelta(days=40), partner=cls.other)
        new_test_user(cls.env, login="heron_statement", groups="base.group_portal", partner_id=cls.other.id)

    @classmethod
    def _today(cls):
        return fields.Date.today()

    def test_statement_lists_open_items_with_pay_buttons(self):
        self.authenticate("kestrel_statement", "kestrel_statement")
        home = self.url_open("/my")
        self.assertIn('href="/my/statement"', home.text, "linked from the portal home")
        page = self.url_open("/my/statement")
        self.assertEqual(page.status_code, 200)
        self.assertIn(self.overdue.name, page.text)
        self.assertIn(self.upcoming.name, page.text)
        self.assertNotIn(self.paid.name, page.text, "paid invoices are not open items")
        self.assertIn("Overdue", page.text)
        for invoice in self.overdue | self.upcoming:
            self.assertIn(f"/my/invoices/{invoice.id}?access_token=", page.text)
        self.assertEqual(page.text.count("o_psa_statement_pay"), 2, "one pay button per open invoice")
        self.assertNotIn(self.other_invoice.name, page.text)

    def test_statement_says_what_autopay_charges_and_when(self):
        mandate = self._create_mandate(max_amount=300.0)
        self.authenticate("kestrel_statement", "kestrel_statement")
        page = self.url_open("/my/statement").text
        self.assertIn("Auto-pay charges", page, "the 150 invoice is charged on its due date")
        self.assertIn(self.upcoming.invoice_date_due.strftime("%m/%d/%Y"), page)
        self.assertIn("Above your auto-pay maximum", page, "the 400 invoice is above the cap")
        mandate.action_suspend(reason="card expired")
        page = self.url_open("/my/statement").text
        self.assertNotIn("Auto-pay charges", page, "a suspended mandate charges nothing")

    def test_other_customer_sees_only_their_own(self):
        self.authenticate("heron_statement", "heron_statement")
        page = self.url_open("/my/statement").text
        self.assertIn(self.other_invoice.name, page)
        for invoice in self.overdue | self.upcoming:
            self.assertNotIn(invoice.name, page)
            self.assertNotIn(f"/my/invoices/{invoice.id}", page)
