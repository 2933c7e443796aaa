from datetime import date, timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import LocalStripeCommon


@tagged("post_install", "-at_install")
class TestInvoiceButtons(LocalStripeCommon):
    """Staff charge the saved card now or send a payment link from the invoice."""

    def test_charge_now_ignores_due_date_but_not_cap(self):
        mandate = self._create_mandate(max_amount=500.0)
        invoice = self._create_invoice(200.0, date.today(), due_date=date.today() + timedelta(days=30))
        invoice.with_user(self.billing_user).action_psa_charge_now()
        self.assertEqual(invoice.psa_attempt_ids.state, "done")
        invoice.invalidate_recordset()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        with self.assertRaisesRegex(UserError, "Only a posted customer invoice"):
            invoice.with_user(self.billing_user).action_psa_charge_now()

        large = self._create_invoice(900.0, date.today())
        with self.assertRaisesRegex(UserError, "above the mandate maximum"):
            large.with_user(self.billing_user).action_psa_charge_now()
        self.assertFalse(large.psa_attempt_ids)
        mandate.action_revoke()
        with self.assertRaisesRegex(UserError, "no active auto-pay mandate"):
            large.with_user(self.billing_user).action_psa_charge_now()

    def test_send_payment_link(self):
        invoice = self._create_invoice(80.0, date.today())
        invoice.with_user(self.billing_user).action_psa_send_payment_link()
        mail = self.env["mail.mail"].search([("model", "=", "account.move"), ("res_id", "=", invoice.id)])
        self.assertEqual(len(mail), 1)
        self.assertEqual(mail.recipient_ids, self.customer)
        self.assertIn(f"/my/invoices/{invoice.id}", mail.body_html)
        self.assertIn("access_token=", mail.body_html)
        draft = self._create_invoice(80.0, date.today(), post=False)
        with self.assertRaisesRegex(UserError, "payment link"):
            draft.with_user(self.billing_user).action_psa_send_payment_link()

    def test_charge_now_shown_only_where_it_can_work(self):
        invoice = self._create_invoice(200.0, date.today())
        large = self._create_invoice(900.0, date.today())
        draft = self._create_invoice(50.0, date.today(), post=False)
        moves = (invoice | large | draft).with_user(self.billing_user)
        self.assertEqual(moves.mapped("psa_can_charge_now"), [False] * 3, "no mandate: nothing to charge with")
        mandate = self._create_mandate(max_amount=500.0)
        moves.invalidate_recordset(["psa_can_charge_now"])
        self.assertEqual(moves.mapped("psa_can_charge_now"), [True, False, False], "above the cap, draft: hidden")
        mandate.action_suspend()
        moves.invalidate_recordset(["psa_can_charge_now"])
        self.assertFalse(invoice.with_user(self.billing_user).psa_can_charge_now, "a suspended mandate charges nothing")
        mandate.action_activate()
        invoice.with_user(self.billing_user).action_psa_charge_now()
        invoice.invalidate_recordset()
        self.assertFalse(invoice.with_user(self.billing_user).psa_can_charge_now, "paid: nothing left to charge")

    def test_payment_link_double_click_sends_once(self):
        invoice = self._create_invoice(80.0, date.today()).with_user(self.billing_user)
        first = invoice.action_psa_send_payment_link()
        second = invoice.action_psa_send_payment_link()
        mails = self.env["mail.mail"].search([("model", "=", "account.move"), ("res_id", "=", invoice.id)])
        self.assertEqual(len(mails), 1, "the second click sends nothing")
        self.assertIn("payment link sent to ap@kestrel-dental.example", first["params"]["message"])
        self.assertIn("already sent", second["params"]["message"])
        self.assertEqual(second["params"]["type"], "warning")
        with freeze_time(fields.Datetime.now() + timedelta(minutes=5)):
            invoice.action_psa_send_payment_link()
        mails = self.env["mail.mail"].search([("model", "=", "account.move"), ("res_id", "=", invoice.id)])
        self.assertEqual(len(mails), 2, "asked again later: sent again")
