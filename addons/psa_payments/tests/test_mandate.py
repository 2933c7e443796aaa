from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged

from .common import GOOD_CARD, LocalStripeCommon


@tagged("post_install", "-at_install")
class TestMandate(LocalStripeCommon):
    """A billing user sets up auto-pay for a customer from the card saved in localstripe."""

    def test_billing_user_creates_mandate_from_token(self):
        form = Form(self.env["psa.payment.mandate"].with_user(self.billing_user))
        form.partner_id = self.customer
        form.token_id = self.token
        form.trigger = "posting"
        form.max_amount = 500.0
        form.hold_days = 3
        mandate = form.save()
        self.assertEqual(mandate.state, "active")
        self.assertEqual(mandate.provider_id, self.provider)
        self.assertIn("Kestrel Dental", mandate.name)
        self.assertIn(self.token.payment_details, mandate.name)

    def test_refused_without_webhook_secret(self):
        self.provider.stripe_webhook_secret = False
        with self.assertRaisesRegex(ValidationError, "webhook secret"):
            self._create_mandate()

    def test_one_active_mandate_per_customer(self):
        self._create_mandate()
        second_token = self._create_stripe_token(self.customer, GOOD_CARD)
        with self.assertRaisesRegex(ValidationError, "already has an active auto-pay mandate"):
            self._create_mandate(token=second_token)

    def test_token_must_belong_to_customer(self):
        other = self.env["res.partner"].create({"name": "Heron Legal", "is_company": True})
        with self.assertRaisesRegex(ValidationError, "does not belong to Heron Legal"):
            self._create_mandate(partner=other)

    def test_revoke_is_final_and_leaves_a_reason(self):
        mandate = self._create_mandate().with_user(self.billing_user)
        mandate.action_suspend()
        self.assertEqual(mandate.state, "suspended")
        mandate.action_activate()
        self.assertEqual(mandate.state, "active")
        mandate.action_revoke()
        self.assertEqual(mandate.state, "revoked")
        self.assertIn(self.billing_user.name, mandate.reason)
        with self.assertRaisesRegex(UserError, "revoked mandate cannot be reactivated"):
            mandate.action_activate()
        # a new mandate may replace the revoked one
        self.assertEqual(self._create_mandate().state, "active")
