import re

from odoo.tests import new_test_user, tagged

from .common import LocalStripeCommon


@tagged("post_install", "-at_install")
class TestPortalMandate(LocalStripeCommon):
    """The customer sees the auto-pay mandate in the portal and revokes it; other customers cannot."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mandate = cls._create_mandate()
        contact = cls.env["res.partner"].create(
            {"name": "Kim Accounts", "parent_id": cls.customer.id, "email": "kim@kestrel-dental.example"}
        )
        cls.portal_user = new_test_user(
            cls.env, login="kestrel_portal", groups="base.group_portal", partner_id=contact.id
        )

    def _csrf(self, html):
        """The CSRF token of the page (the revoke form's, else the one every portal page carries)."""
        return re.search(r'(?:name="csrf_token" value=|csrf_token: )"([^"]+)"', html).group(1)

    def test_customer_sees_and_revokes_mandate(self):
        self.authenticate("kestrel_portal", "kestrel_portal")
        page = self.url_open("/my/autopay")
        self.assertEqual(page.status_code, 200)
        self.assertIn(self.token.payment_details, page.text)
        self.assertIn(f"/my/autopay/{self.mandate.id}/revoke", page.text)
        response = self.url_open(f"/my/autopay/{self.mandate.id}/revoke", data={"csrf_token": self._csrf(page.text)})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.mandate.state, "revoked")
        self.assertIn("customer portal", self.mandate.reason)

    def test_customer_reads_nothing_internal(self):
        self.mandate.write({"hold_days": 5})
        self.mandate.action_suspend("Demo: configure the Stripe provider's secret key first")
        self.authenticate("kestrel_portal", "kestrel_portal")
        page = self.url_open("/my/autopay")
        text = " ".join(re.sub(r"<[^>]+>", "", page.text).split())
        self.assertTrue("Stripe provider" not in text, "the staff's reason stays internal")
        self.assertTrue("not charged for now" in text, "the customer reads what the state means")
        self.assertTrue("On the due date, not before 5 days after the invoice date" in text, "no space before a comma")

    def test_other_customer_cannot_revoke(self):
        other = self.env["res.partner"].create({"name": "Heron Legal", "is_company": True})
        new_test_user(self.env, login="heron_portal", groups="base.group_portal", partner_id=other.id)
        self.authenticate("heron_portal", "heron_portal")
        page = self.url_open("/my/autopay")
        self.assertNotIn(self.token.payment_details, page.text)
        response = self.url_open(f"/my/autopay/{self.mandate.id}/revoke", data={"csrf_token": self._csrf(page.text)})
        self.assertEqual(response.status_code, 404)
        self.assertIn("error", response.json())
        self.assertEqual(self.mandate.state, "active")
