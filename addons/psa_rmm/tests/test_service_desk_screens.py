from lxml import etree

from odoo.tests import tagged
from odoo.tools.safe_eval import safe_eval

from .common import PsaRmmCommon


@tagged("post_install", "-at_install")
class TestServiceDeskScreens(PsaRmmCommon):
    """An agent reads RMM tickets by customer and device, in words, and goes from a device to its tickets."""

    def test_rmm_ticket_in_the_list_and_the_filter(self):
        self._post(self._event("e1", device="dev-3", occurred_at="2026-11-12T10:00:00Z"))
        rmm_ticket = self._tickets("A-1")
        by_hand = self.env["helpdesk.ticket"].create(
            {"name": "Printer jam", "description": "jam", "partner_id": self.customer.id, "team_id": self.team.id}
        )
        tickets = self.env["helpdesk.ticket"].with_user(self.agent)
        list_arch = etree.fromstring(tickets.get_view(view_type="list")["arch"])
        customer = list_arch.find(".//field[@name='commercial_partner_id']")
        self.assertIsNotNone(customer, "the list shows the customer")
        self.assertNotEqual(customer.get("optional"), "hide")
        search_arch = etree.fromstring(tickets.get_view(view_type="search")["arch"])
        from_rmm = search_arch.find(".//filter[@name='psa_from_rmm']")
        found = tickets.search(safe_eval(from_rmm.get("domain")) + [("partner_id", "=", self.customer.id)])
        self.assertEqual(found, rmm_ticket, "From RMM keeps the RMM's tickets only")
        self.assertNotIn(by_hand, found)

        # the note says when in words, not in ISO
        opened = rmm_ticket.message_ids.filtered(lambda m: "Opened automatically" in (m.body or ""))
        self.assertNotIn("2026-11-12 10:00:00", opened.body)
        self.assertIn("Nov 12, 2026", opened.body)

    def test_device_tickets_button_and_labels(self):
        self._post(self._event("e1", device="dev-4"))
        ticket = self._tickets("A-1")
        device = ticket.psa_device_id.with_user(self.agent)
        self.assertEqual((device.ticket_count, device.open_ticket_count), (1, 1))
        action = device.action_view_tickets()
        self.assertEqual(self.env["helpdesk.ticket"].search(action["domain"]), ticket)
        self.assertEqual(device.rmm_source_label, "PSA event format")
        device.sudo().rmm_source = "tacticalrmm"
        self.assertEqual(device.rmm_source_label, "Tactical RMM")
        labels = dict(self.env["psa.rmm.event"]._fields["event_type"]._description_selection(self.env))
        self.assertEqual(labels["alert.raised"], "Alert raised")
        form = etree.fromstring(device.get_view(view_type="form")["arch"])
        self.assertIsNotNone(form.find(".//button[@name='action_view_tickets']"), "a Tickets button on the device")

    def test_helpdesk_project_is_no_engagement(self):
        """The project a helpdesk team logs its tickets' time on is not listed under Engagements."""
        customer = self.env["res.partner"].create({"name": "Desk Customer", "is_company": True})
        desk_project = self.env["project.project"].create(
            {"name": "Service desk time", "partner_id": customer.id, "allow_billable": True}
        )
        engagement = self.env["project.project"].create(
            {"name": "Desk Customer - rollout", "partner_id": customer.id, "allow_billable": True}
        )
        self.env["helpdesk.ticket.team"].create({"name": "Desk team", "default_project_id": desk_project.id})
        action = self.env["ir.actions.act_window"]._for_xml_id("psa_orders.action_psa_engagements")
        shown = self.env["project.project"].search(safe_eval(action["domain"]))
        self.assertIn(engagement, shown)
        self.assertNotIn(desk_project, shown)
