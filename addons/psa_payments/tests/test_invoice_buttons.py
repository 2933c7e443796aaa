from datetime import date, timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import Form, tagged

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

    def _send_from_composer(self, action):
        """What the person does in the composer the button opened: read it, press Send."""
        self.assertEqual(action["res_model"], "mail.compose.message")
        composer = Form(self.env["mail.compose.message"].with_user(self.billing_user).with_context(**action["context"]))
        return composer.save().action_send_mail()

    def _mails(self, invoice):
        return self.env["mail.mail"].search([("model", "=", "account.move"), ("res_id", "=", invoice.id)])

    def test_send_payment_link_opens_the_composer_prefilled(self):
        invoice = self._create_invoice(80.0, date.today())
        action = invoice.with_user(self.billing_user).action_psa_send_payment_link()
        self.assertFalse(self._mails(invoice), "the button sends nothing by itself: the composer opens")
        template = self.env.ref("psa_payments.mail_template_payment_link")
        self.assertEqual(action["context"]["default_template_id"], template.id)
        composer = Form(self.env["mail.compose.message"].with_user(self.billing_user).with_context(**action["context"]))
        self.assertIn(invoice.name, composer.subject)
        self.assertIn(f"/my/invoices/{invoice.id}", composer.body)
        self.assertEqual(composer.partner_ids[:], self.customer)
        answer = composer.save().action_send_mail()
        mail = self._mails(invoice)
        self.assertEqual(len(mail), 1)
        self.assertEqual(mail.recipient_ids, self.customer)
        self.assertIn("access_token=", mail.body_html)
        self.assertIn("payment link sent to ap@kestrel-dental.example", answer["params"]["message"])
        self.assertEqual(answer["params"]["next"], {"type": "ir.actions.act_window_close"})
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
        first, second = invoice.action_psa_send_payment_link(), invoice.action_psa_send_payment_link()
        self._send_from_composer(first)
        twice = self._send_from_composer(second)
        self.assertEqual(len(self._mails(invoice)), 1, "two composers opened at once: the second sends nothing")
        self.assertIn("already sent", twice["params"]["message"])
        self.assertEqual(twice["params"]["type"], "warning")
        again = invoice.action_psa_send_payment_link()
        self.assertEqual(again["tag"], "display_notification", "within 120 s the button says when it was sent")
        self.assertIn("already sent", again["params"]["message"])
        with freeze_time(fields.Datetime.now() + timedelta(minutes=5)):
            self._send_from_composer(invoice.action_psa_send_payment_link())
        self.assertEqual(len(self._mails(invoice)), 2, "asked again later: sent again")

    def test_payment_link_sent_now_for_integrators_is_guarded_too(self):
        invoice = self._create_invoice(80.0, date.today()).with_user(self.billing_user)
        first = invoice.action_psa_send_payment_link_now()
        second = invoice.action_psa_send_payment_link_now()
        self.assertEqual(len(self._mails(invoice)), 1, "the second call sends nothing")
        self.assertIn("payment link sent to ap@kestrel-dental.example", first["params"]["message"])
        self.assertIn("already sent", second["params"]["message"])

    def test_charge_now_from_the_action_menu_charges_what_it_can_and_says_why_not_the_rest(self):
        self._create_mandate(max_amount=500.0)
        invoice = self._create_invoice(200.0, date.today(), due_date=date.today() + timedelta(days=30))
        large = self._create_invoice(900.0, date.today())
        draft = self._create_invoice(50.0, date.today(), post=False)
        answer = (invoice | large | draft).with_user(self.billing_user).action_psa_charge_selection()
        self.assertEqual(invoice.psa_attempt_ids.state, "done", "charged as the cron charges")
        self.assertFalse(large.psa_attempt_ids | draft.psa_attempt_ids)
        self.assertEqual(answer["params"]["title"], "Charge now: 1 of 3 charged")
        message = answer["params"]["message"]
        self.assertIn(f"{invoice.name}: {invoice.psa_attempt_ids.provider_reason}", message)
        self.assertIn("above the mandate maximum", message)
        self.assertIn("only a posted customer invoice", message)
        self.assertIn(invoice.psa_attempt_ids.provider_reason, invoice.psa_autopay_note, "the cron's reason")

    def test_setup_checklist_says_whether_stripe_is_set_up(self):
        settings = self.env["res.config.settings"].create({})
        self.assertTrue(settings.psa_setup_stripe_done, "keys and webhook secret set, provider in test mode")
        action = settings.action_psa_open_stripe_provider()
        self.assertEqual((action["res_model"], action["res_id"]), ("payment.provider", self.provider.id))
        self.provider.stripe_webhook_secret = False
        self.assertFalse(self.env["res.config.settings"].create({}).psa_setup_stripe_done)
