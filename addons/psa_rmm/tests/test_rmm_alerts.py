from odoo.tests import tagged

from .common import PsaRmmCommon


@tagged("post_install", "-at_install")
class TestRmmAlerts(PsaRmmCommon):
    """Alerts become tickets for the right customer and device; auto-resolved ones are closed and charged."""

    def test_alert_opens_ticket_for_customer_and_registers_device(self):
        response = self._post(self._event("e1", severity="critical", device="dev-9"))
        self.assertEqual(response.status_code, 200, response.text)
        ticket = self._tickets("A-1")
        self.assertEqual(len(ticket), 1)
        self.assertEqual(ticket.partner_id, self.customer)
        self.assertEqual(ticket.team_id, self.team)
        self.assertEqual(ticket.priority, "3")
        self.assertIn("Disk C: almost full", ticket.name)
        device = ticket.psa_device_id
        self.assertEqual((device.name, device.partner_id, device.rmm_device_id), ("HOST-dev-9", self.customer, "dev-9"))
        self.assertIn(ticket.number, self._events().reason)
        # the agent sees the ticket and its device
        self.assertEqual(ticket.with_user(self.agent).psa_device_id.name, "HOST-dev-9")

    def test_each_ticket_says_which_event_opened_it(self):
        response = self._post(
            [
                self._event("o1", alert_id="A-1", device="dev-1", severity="critical"),
                self._event("o2", alert_id="A-2", device="dev-2", site="site-2"),
            ]
        )
        self.assertEqual(response.status_code, 200, response.text)
        for alert, event, device in (("A-1", "o1", "HOST-dev-1"), ("A-2", "o2", "HOST-dev-2")):
            ticket = self._tickets(alert)
            opened = ticket.message_ids.filtered(lambda m: "Opened automatically from RMM event" in (m.body or ""))
            self.assertEqual(len(opened), 1, ticket.message_ids.mapped("body"))
            self.assertIn(f"event {event} of Test RMM", opened.body)
            self.assertIn(device, opened.body)
        self.assertIn("severity critical", self._tickets("A-1").message_ids.mapped("body")[-1])

    def test_known_device_is_matched_not_duplicated(self):
        device = self.env["psa.device"].create(
            {
                "name": "KNOWN-1",
                "partner_id": self.customer.id,
                "rmm_source": "native",
                "rmm_device_id": "dev-1",
                "last_seen": "2026-11-01 00:00:00",
            }
        )
        self._post(self._event("e1", device="dev-1", occurred_at="2026-11-12T10:00:00Z"))
        self.assertEqual(self._tickets().psa_device_id, device)
        self.assertEqual(self.env["psa.device"].search_count([("rmm_device_id", "=", "dev-1")]), 1)
        self.assertEqual(str(device.last_seen), "2026-11-12 10:00:00")

    def test_repeated_alert_updates_the_open_ticket(self):
        self._post(self._event("e1", severity="warning"))
        ticket = self._tickets("A-1")
        self._post(self._event("e2", event_type="alert.updated", severity="critical", message="Free space 1%"))
        self._post(self._event("e3", severity="critical"))
        self.assertEqual(self._tickets("A-1"), ticket, "a repeated alert must not open a second ticket")
        self.assertEqual(ticket.priority, "3")
        notes = ticket.message_ids.filtered(lambda m: "reported this alert again" in (m.body or ""))
        self.assertEqual(len(notes), 2)
        self.assertIn("Free space 1%", notes.mapped("body")[-1])

    def test_auto_resolved_closes_ticket_and_charges_included_then_overage(self):
        for n in range(1, 5):
            alert = f"A-{n}"
            self._post(self._event(f"r{n}", alert_id=alert, occurred_at=f"2026-11-0{n}T08:00:00Z"))
            self._post(
                self._event(
                    f"z{n}", event_type="alert.auto_resolved", alert_id=alert, occurred_at=f"2026-11-0{n}T09:00:00Z"
                )
            )
        tickets = self._tickets()
        self.assertEqual(len(tickets), 4)
        self.assertTrue(all(tickets.mapped("closed")))
        self.assertTrue(
            all(any("resolved the alert by itself" in (m.body or "") for m in t.message_ids) for t in tickets)
        )
        charges = self.env["psa.rmm.charge"].search([("integration_id", "=", self.integration.id)], order="date, id")
        self.assertEqual(charges.mapped("price_unit"), [0.0, 0.0, 15.0, 15.0])
        self.assertEqual(charges.mapped("state"), ["to_invoice"] * 4)
        self.assertEqual(charges.partner_id, self.customer)
        self.assertIn("included", charges[0].explanation)
        self.assertIn("overage", charges[2].explanation)
        self.assertIn("HOST-dev-1", charges[2].explanation)
        self.assertIn("z3", charges[2].explanation)
        # a retried auto-resolve is neither charged nor closed twice
        self._post(self._event("z4", event_type="alert.auto_resolved", alert_id="A-4"))
        self.assertEqual(self.env["psa.rmm.charge"].search_count([("integration_id", "=", self.integration.id)]), 4)

    def test_customer_terms_override_integration_terms_and_months_restart(self):
        site = self.integration.site_ids.filtered(lambda s: s.rmm_site_id == "site-2")
        site.write({"custom_terms": True, "event_price": 9.0, "included_events": 0, "overage_price": 0.0})
        batch = [
            self._event("o1", event_type="alert.auto_resolved", alert_id="X", site="site-2"),
            self._event("n1", event_type="alert.auto_resolved", alert_id="N1", occurred_at="2026-10-31T08:00:00Z"),
            self._event("n2", event_type="alert.auto_resolved", alert_id="N2", occurred_at="2026-10-31T09:00:00Z"),
            self._event("n3", event_type="alert.auto_resolved", alert_id="N3", occurred_at="2026-10-31T10:00:00Z"),
            self._event("d1", event_type="alert.auto_resolved", alert_id="D1", occurred_at="2026-11-01T10:00:00Z"),
        ]
        self._post(batch)
        charges = self.env["psa.rmm.charge"].search([("integration_id", "=", self.integration.id)])
        by_event = {c.event_id.rmm_event_id: c for c in charges}
        self.assertEqual(by_event["o1"].price_unit, 9.0)
        self.assertIn("Other Monitored Customer", by_event["o1"].explanation)
        self.assertEqual([by_event[k].price_unit for k in ("n1", "n2", "n3", "d1")], [0.0, 0.0, 15.0, 0.0])

    def test_device_events_keep_the_register_in_sync(self):
        self._post(self._event("u1", event_type="device.upserted", device="dev-5", device_type="workstation"))
        device = self.env["psa.device"].search([("rmm_device_id", "=", "dev-5")])
        self.assertEqual((device.name, device.device_type, device.active), ("HOST-dev-5", "workstation", True))
        renamed = self._event("u2", event_type="device.upserted", device="dev-5", device_type="server")
        renamed["device"]["name"] = "RENAMED-5"
        self._post(renamed)
        self.assertEqual((device.name, device.device_type), ("RENAMED-5", "server"))
        self._post(self._event("x1", event_type="device.removed", device="dev-5", occurred_at="2026-11-20T00:00:00Z"))
        self.assertFalse(device.active)
        self.assertEqual(str(device.removed_at), "2026-11-20 00:00:00")
        self.assertEqual(self.customer.psa_device_count, 0)

    def test_charges_feed_the_billing_run_and_become_invoiced_when_posted(self):
        self.integration.included_events = 0
        self._post(self._event("z1", event_type="alert.auto_resolved", occurred_at="2026-11-05T09:00:00Z"))
        charge_model = self.env["psa.rmm.charge"]
        charges = charge_model.search(charge_model._psa_billable_charges_domain("2026-11-30"))
        charges = charges.filtered(lambda c: c.integration_id == self.integration)
        self.assertEqual(len(charges), 1)
        self.assertFalse(charge_model.search(charge_model._psa_billable_charges_domain("2026-11-04")) & charges)
        (line_vals,) = charges._psa_prepare_invoice_line_vals()
        self.assertEqual((line_vals["quantity"], line_vals["price_unit"]), (1.0, 20.0))
        self.assertIn("per-event price", line_vals["name"])
        invoice = self.env["account.move"].create(
            {"move_type": "out_invoice", "partner_id": self.customer.id, "invoice_line_ids": [(0, 0, line_vals)]}
        )
        self.assertEqual(charges.invoice_line_id, invoice.invoice_line_ids)
        self.assertEqual(charges.state, "to_invoice")
        invoice.action_post()
        self.assertEqual(charges.state, "invoiced")
        self.assertFalse(charge_model.search(charge_model._psa_billable_charges_domain("2026-11-30")) & charges)

    def test_tactical_rmm_payloads_through_the_endpoint(self):
        tactical = self.integration.copy({"name": "Tactical", "kind": "tacticalrmm", "secret": "tactical-secret"})
        self.env["psa.rmm.site"].create(
            {"integration_id": tactical.id, "rmm_site_id": "3", "partner_id": self.customer.id}
        )
        failure = {
            "event": "failure",
            "alert": {"id": 77, "alert_time": "2026-11-10T08:00:00Z", "severity": "error", "message": "Disk full"},
            "agent": {"agent_id": "AgEnT1", "hostname": "SRV1", "monitoring_type": "server", "site": {"id": 3}},
        }
        self.assertEqual(self._post(failure, integration=tactical).status_code, 200)
        ticket = self.env["helpdesk.ticket"].search([("psa_rmm_integration_id", "=", tactical.id)])
        self.assertEqual((ticket.partner_id, ticket.psa_device_id.name, ticket.priority), (self.customer, "SRV1", "2"))
        resolved = dict(failure, event="resolved")
        resolved["alert"] = dict(failure["alert"], resolved_on="2026-11-10T08:30:00Z")
        self.assertEqual(self._post(resolved, integration=tactical).status_code, 200)
        self.assertTrue(ticket.closed)
        unknown = self._post({"activityType": "CONDITION", "statusCode": "TRIGGERED"}, integration=tactical)
        self.assertEqual((unknown.status_code, unknown.json()["error"]), (422, "unknown_shape"))

    def test_ninjaone_payloads_through_the_endpoint(self):
        ninja = self.integration.copy({"name": "Ninja", "kind": "ninjaone", "secret": "ninja-secret"})
        self.env["psa.rmm.site"].create(
            {"integration_id": ninja.id, "rmm_site_id": "7", "partner_id": self.customer.id}
        )
        activity = {
            "id": 9001,
            "activityTime": 1794300000,
            "activityType": "CONDITION",
            "statusCode": "TRIGGERED",
            "severity": "CRITICAL",
            "seriesUid": "series-1",
            "sourceName": "Switch port down",
            "deviceId": 1042,
            "device": {"id": 1042, "organizationId": 7, "systemName": "FAB-SW", "nodeClass": "NMS_SWITCH"},
        }
        self.assertEqual(self._post([activity], integration=ninja).status_code, 200)
        ticket = self.env["helpdesk.ticket"].search([("psa_rmm_integration_id", "=", ninja.id)])
        self.assertEqual((ticket.psa_device_id.device_type, ticket.priority), ("network", "3"))
        self._post(dict(activity, id=9002, statusCode="RESET"), integration=ninja)
        self.assertTrue(ticket.closed)
        charge = self.env["psa.rmm.charge"].search([("integration_id", "=", ninja.id)])
        self.assertEqual(charge.ticket_id, ticket)
        unknown = self._post({"event": "failure"}, integration=ninja)
        self.assertEqual((unknown.status_code, unknown.json()["error"]), (422, "unknown_shape"))
