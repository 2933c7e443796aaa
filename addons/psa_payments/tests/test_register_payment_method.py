import xmlrpc.client

from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .common import GOOD_CARD, LocalStripeCommon


@tagged("post_install", "-at_install")
class TestRegisterPaymentMethod(LocalStripeCommon):
    """An integrator's onboarding script saved a customer's card in Stripe (a customer and a payment method)
    and registers it for auto-pay over XML-RPC, as a billing user; Odoo checks both ids with Stripe
    (localstripe here) before it saves anything."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.integrator = new_test_user(
            cls.env, login="psa_pay_integrator", password="psa_pay_integrator", groups="account.group_account_invoice"
        )
        cls.newcomer = cls.env["res.partner"].create(
            {"name": "Heron Clinics", "is_company": True, "email": "ap@heron.example"}
        )
        cls.contact = cls.env["res.partner"].create({"name": "Hal Heron", "parent_id": cls.newcomer.id})

    def _stripe_card(self, card_number=GOOD_CARD, attach=True):
        customer = self._stripe("POST", "customers", {"name": "Heron Clinics"})
        method = self._stripe(
            "POST",
            "payment_methods",
            {
                "type": "card",
                "card[number]": card_number,
                "card[exp_month]": 12,
                "card[exp_year]": 2030,
                "card[cvc]": "123",
            },
        )
        if attach:
            self._stripe("POST", f"payment_methods/{method['id']}/attach", {"customer": customer["id"]})
        return customer["id"], method["id"]

    def _register(self, *args, **kwargs):
        uid = self.xmlrpc_common.authenticate(self.env.cr.dbname, "psa_pay_integrator", "psa_pay_integrator", {})
        return self.xmlrpc_object.execute_kw(
            self.env.cr.dbname,
            uid,
            "psa_pay_integrator",
            "psa.payment.mandate",
            "register_stripe_payment_method",
            list(args),
            kwargs,
        )

    def _tokens(self):
        return self.env["payment.token"].search([("partner_id", "child_of", self.newcomer.id)])

    def test_register_card_creates_token_and_mandate(self):
        customer_id, method_id = self._stripe_card()
        answer = self._register(self.contact.id, customer_id, method_id, max_amount=5000)
        token = self.env["payment.token"].browse(answer["token_id"])
        self.assertTrue(answer["created_token"])
        self.assertEqual(token.partner_id, self.newcomer, "the token belongs to the company, not the contact")
        self.assertEqual(token.provider_id, self.provider)
        self.assertEqual((token.provider_ref, token.stripe_payment_method), (customer_id, method_id))
        self.assertEqual(token.payment_details, GOOD_CARD[-4:])
        self.assertEqual(token.payment_method_id, self.card_method)
        mandate = self.env["psa.payment.mandate"].browse(answer["mandate_id"])
        self.assertEqual((mandate.partner_id, mandate.token_id, mandate.state), (self.newcomer, token, "active"))
        self.assertEqual(mandate.max_amount, 5000)
        again = self._register(self.newcomer.id, customer_id, method_id)
        self.assertEqual(
            (again["token_id"], again["mandate_id"], again["created_token"]), (token.id, mandate.id, False)
        )
        self.assertEqual(len(self._tokens()), 1)

    def test_new_card_switches_the_open_mandate(self):
        first = self._register(self.newcomer.id, *self._stripe_card())
        second = self._register(self.newcomer.id, *self._stripe_card())
        self.assertEqual(second["mandate_id"], first["mandate_id"])
        self.assertNotEqual(second["token_id"], first["token_id"])
        mandate = self.env["psa.payment.mandate"].browse(first["mandate_id"])
        self.assertEqual(mandate.token_id.id, second["token_id"])
        self.assertIn("switched", " ".join(mandate.message_ids.mapped("body")))

    def test_without_mandate(self):
        answer = self._register(self.newcomer.id, *self._stripe_card(), create_mandate=False)
        self.assertFalse(answer["mandate_id"])
        self.assertFalse(self.env["psa.payment.mandate"].search([("partner_id", "=", self.newcomer.id)]))

    def test_ids_stripe_does_not_confirm_are_refused_and_nothing_saved(self):
        customer_id, method_id = self._stripe_card()
        other_customer, loose_method = self._stripe_card(attach=False)
        for args, expected in (
            ((customer_id, loose_method), "is not attached to the Stripe customer"),
            ((other_customer, method_id), "is not attached to the Stripe customer"),
            ((customer_id, "pm_doesnotexist"), "Stripe refused"),
            (("cus_doesnotexist", method_id), "Stripe refused"),
            (("tok_visa", method_id), "Expected a Stripe customer id"),
        ):
            with self.subTest(args=args), self.assertRaises(xmlrpc.client.Fault) as refused, mute_logger("odoo.http"):
                self._register(self.newcomer.id, *args)
            self.assertEqual(refused.exception.faultCode, 2, "a UserError (XML-RPC warning)")
            self.assertIn(expected, refused.exception.faultString)
        self.assertFalse(self._tokens())
        self.assertFalse(self.env["psa.payment.mandate"].search([("partner_id", "=", self.newcomer.id)]))

    def test_user_without_mandate_rights_is_refused(self):
        new_test_user(self.env, login="psa_pay_sales_only", password="psa_pay_sales_only", groups="base.group_user")
        uid = self.xmlrpc_common.authenticate(self.env.cr.dbname, "psa_pay_sales_only", "psa_pay_sales_only", {})
        with self.assertRaises(xmlrpc.client.Fault) as refused, mute_logger("odoo.http"):
            self.xmlrpc_object.execute_kw(
                self.env.cr.dbname,
                uid,
                "psa_pay_sales_only",
                "psa.payment.mandate",
                "register_stripe_payment_method",
                [self.newcomer.id, *self._stripe_card()],
            )
        self.assertEqual(refused.exception.faultCode, 4, refused.exception.faultString)
        self.assertFalse(self._tokens())
