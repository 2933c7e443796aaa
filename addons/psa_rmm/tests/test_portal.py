import re

from odoo.tests import new_test_user, tagged

from .common import PsaRmmCommon


@tagged("post_install", "-at_install")
class TestPortalDevices(PsaRmmCommon):
    """A customer's portal user sees their company's devices and tickets, never another customer's."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_a = new_test_user(cls.env, login="psa_portal_a", groups="base.group_portal")
        cls.portal_a.partner_id.parent_id = cls.customer
        cls.portal_b = new_test_user(cls.env, login="psa_portal_b", groups="base.group_portal")
        cls.portal_b.partner_id.parent_id = cls.other_customer

    def setUp(self):
        super().setUp()
        response = self._post(
            [
                self._event("pa1", alert_id="A-1", device="dev-a", title="Backup failed on A"),
                self._event("pb1", alert_id="B-1", device="dev-b", site="site-2", title="CPU hot on B"),
                self._event("pa2", event_type="device.upserted", device="dev-a2", device_type="workstation"),
            ]
        )
        self.assertEqual(response.status_code, 200, response.text)
        devices = self.env["psa.device"].search([("rmm_source", "=", "native")])
        self.device_a = devices.filtered(lambda d: d.rmm_device_id == "dev-a")
        self.device_a2 = devices.filtered(lambda d: d.rmm_device_id == "dev-a2")
        self.device_b = devices.filtered(lambda d: d.rmm_device_id == "dev-b")
        self.ticket_a, self.ticket_b = self._tickets("A-1"), self._tickets("B-1")

    def test_record_rule_limits_devices_to_own_company(self):
        self.assertEqual(self.env["psa.device"].with_user(self.portal_a).search([]), self.device_a | self.device_a2)
        self.assertEqual(self.env["psa.device"].with_user(self.portal_b).search([]), self.device_b)

    def test_device_list_and_detail_show_own_devices_only(self):
        self.authenticate("psa_portal_a", "psa_portal_a")
        listing = self.url_open("/my/devices")
        self.assertEqual(listing.status_code, 200)
        self.assertIn("HOST-dev-a", listing.text)
        self.assertIn("HOST-dev-a2", listing.text)
        self.assertNotIn("HOST-dev-b", listing.text)
        detail = self.url_open(f"/my/devices/{self.device_a.id}")
        self.assertEqual(detail.status_code, 200)
        self.assertIn("Server", detail.text)
        self.assertIn(self.ticket_a.number, detail.text, "the device page lists its open ticket")
        self.assertIn("Backup failed on A", detail.text)
        self.assertEqual(self.url_open(f"/my/devices/{self.device_b.id}").status_code, 404)
        self.assertEqual(self.url_open("/my/devices/999999").status_code, 404)

    def test_device_page_breadcrumb_names_the_device_only(self):
        self.authenticate("psa_portal_a", "psa_portal_a")
        detail = self.url_open(f"/my/devices/{self.device_a.id}")
        breadcrumb = re.search(r'<ol class="o_portal_submenu.*?</ol>', detail.text, re.S).group(0)
        crumbs = [
            " ".join(re.sub(r"<[^>]+>", " ", item).split()) for item in re.findall(r"<li.*?</li>", breadcrumb, re.S)
        ]
        self.assertEqual(crumbs[1:], ["Devices", "HOST-dev-a"], "no ticket in the device's breadcrumb")

    def test_closed_ticket_leaves_the_device_page(self):
        self._post(self._event("pa3", event_type="alert.auto_resolved", alert_id="A-1", device="dev-a"))
        self.assertTrue(self.ticket_a.closed)
        self.authenticate("psa_portal_a", "psa_portal_a")
        detail = self.url_open(f"/my/devices/{self.device_a.id}")
        self.assertNotIn(self.ticket_a.number, detail.text)
        self.assertIn("No open ticket", detail.text)

    def test_rmm_tickets_show_in_the_customers_ticket_portal_only(self):
        self.authenticate("psa_portal_a", "psa_portal_a")
        tickets = self.url_open("/my/tickets")
        self.assertEqual(tickets.status_code, 200)
        self.assertIn(self.ticket_a.number, tickets.text)
        self.assertNotIn(self.ticket_b.number, tickets.text)
        self.authenticate("psa_portal_b", "psa_portal_b")
        self.assertIn(self.ticket_b.number, self.url_open("/my/tickets").text)
        self.assertEqual(
            self.env["helpdesk.ticket"].with_user(self.portal_b).search([("id", "in", self.ticket_a.ids)]).ids, []
        )

    def test_portal_home_links_the_devices_and_counts_them(self):
        self.authenticate("psa_portal_a", "psa_portal_a")
        self.assertIn('href="/my/devices"', self.url_open("/my/home").text)
        counters = self.make_jsonrpc_request("/my/counters", {"counters": ["psa_device_count"]})
        self.assertEqual(counters["psa_device_count"], 2)
