from datetime import date, datetime, timedelta

from freezegun import freeze_time

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

    def test_payment_link_double_click_sends_one_email(self):
        """A second press right after the first is the same click: one e-mail, and the button says why;
        pressed again later, the link is sent again."""
        invoice = self._create_invoice(80.0, date.today())
        button = invoice.with_user(self.billing_user)
        start = datetime(2026, 11, 2, 9, 0)

        def mails():
            return self.env["mail.mail"].search_count([("model", "=", "account.move"), ("res_id", "=", invoice.id)])

        with freeze_time(start):
            self.assertIs(button.action_psa_send_payment_link(), True)
        with freeze_time(start + timedelta(seconds=1)):
            answer = button.action_psa_send_payment_link()
        self.assertEqual(mails(), 1)
        self.assertIn("not sent twice", answer["params"]["message"])
        self.assertEqual(invoice.psa_payment_link_sent_at, start)
        with freeze_time(start + timedelta(minutes=5)):
            self.assertIs(button.action_psa_send_payment_link(), True)
        self.assertEqual(mails(), 2)
