import lxml.html
from freezegun import freeze_time

from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestPrepaidPortal(HttpCase):
    """A customer's portal user reads their company's prepaid balance, and nobody else's."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        partners = cls.env["res.partner"]
        cls.customer_a = partners.create({"name": "Portal Customer A", "is_company": True})
        cls.customer_b = partners.create({"name": "Portal Customer B", "is_company": True})
        contact_a = partners.create({"name": "Alice of A", "parent_id": cls.customer_a.id})
        contact_b = partners.create({"name": "Bob of B", "parent_id": cls.customer_b.id})
        cls.portal_a = new_test_user(cls.env, login="psa_portal_a", groups="base.group_portal", partner_id=contact_a.id)
        cls.portal_b = new_test_user(cls.env, login="psa_portal_b", groups="base.group_portal", partner_id=contact_b.id)
        funds = cls.env["psa.prepaid.fund"]
        cls.fund_a = funds.create(
            {
                "name": "A: 20 support hours",
                "partner_id": cls.customer_a.id,
                "initial_quantity": 20.0,
                "date_start": "2026-11-01",
            }
        )
        cls.fund_b = funds.create(
            {
                "name": "B: 8 support hours",
                "partner_id": cls.customer_b.id,
                "initial_quantity": 8.0,
                "date_start": "2026-11-01",
            }
        )
        consultant = new_test_user(
            cls.env, login="psa_portal_consultant", groups="hr_timesheet.group_hr_timesheet_user"
        )
        manager = new_test_user(cls.env, login="psa_portal_manager", groups="hr_timesheet.group_timesheet_manager")
        cls.env["hr.employee"].create({"name": "Portal consultant", "user_id": consultant.id})
        project = cls.env["project.project"].create(
            {"name": "A's engagement", "partner_id": cls.customer_a.id, "allow_timesheets": True}
        )
        with freeze_time("2026-11-23"):
            line = (
                cls.env["account.analytic.line"]
                .with_user(consultant)
                .create(
                    {"project_id": project.id, "name": "Patched the servers", "unit_amount": 3.5, "date": "2026-11-20"}
                )
            )
            line.with_user(manager).action_psa_approve()

    def test_portal_user_sees_own_company_funds_only(self):
        self.authenticate("psa_portal_a", "psa_portal_a")
        listing = self.url_open("/my/prepaid")
        self.assertEqual(listing.status_code, 200)
        self.assertIn("A: 20 support hours", listing.text)
        self.assertIn("16.50", listing.text, "the remaining balance after 3.5 h drawn")
        self.assertNotIn("B: 8 support hours", listing.text)
        # the list's breadcrumb ends at Prepaid Balances: no fund of the list leaks into it
        breadcrumb = lxml.html.fromstring(listing.text).xpath("//ol[contains(@class, 'o_portal_submenu')]")[0]
        self.assertNotIn("A: 20 support hours", breadcrumb.text_content())
        self.assertIn("Prepaid Balances", breadcrumb.text_content())
        detail = self.url_open(f"/my/prepaid/{self.fund_a.id}")
        self.assertEqual(detail.status_code, 200)
        self.assertIn("3.50", detail.text, "the draw-down is listed")
        self.assertIn("2026", detail.text)
        self.assertEqual(self.url_open(f"/my/prepaid/{self.fund_b.id}").status_code, 404)
        self.assertEqual(self.url_open("/my/prepaid/999999999").status_code, 404)

    def test_home_counter_and_other_customer(self):
        self.authenticate("psa_portal_b", "psa_portal_b")
        counters = self.make_jsonrpc_request("/my/counters", {"counters": ["psa_prepaid_count"]})
        self.assertEqual(counters["psa_prepaid_count"], 1)
        listing = self.url_open("/my/prepaid")
        self.assertIn("B: 8 support hours", listing.text)
        self.assertNotIn("A: 20 support hours", listing.text)
        self.assertEqual(self.url_open(f"/my/prepaid/{self.fund_a.id}").status_code, 404)

    def test_anonymous_visitor_is_sent_to_login(self):
        response = self.url_open(f"/my/prepaid/{self.fund_a.id}", allow_redirects=False)
        self.assertIn(response.status_code, (302, 303))
        self.assertIn("/web/login", response.headers["Location"])
