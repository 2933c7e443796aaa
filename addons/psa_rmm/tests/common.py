import json
import time

from odoo.tests import HttpCase, new_test_user

from odoo.addons.psa_timesheet_billing.tests.queue_job_helpers import perform_queued_jobs

from ..tools.events import compute_signature

RMM_CHANNEL = "root.psa.rmm"


class PsaRmmCommon(HttpCase):
    """Fixtures: an MSP helpdesk team, a customer mapped to RMM site "site-1" of a native integration
    that charges auto-resolved alerts (2 included a month, then 15.00), and helpers that sign and post."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agent = new_test_user(cls.env, login="psa_rmm_agent", groups="helpdesk_mgmt.group_helpdesk_user")
        cls.manager = new_test_user(cls.env, login="psa_rmm_manager", groups="helpdesk_mgmt.group_helpdesk_manager")
        cls.customer = cls.env["res.partner"].create({"name": "Monitored Customer", "is_company": True})
        cls.other_customer = cls.env["res.partner"].create({"name": "Other Monitored Customer", "is_company": True})
        cls.team = cls.env["helpdesk.ticket.team"].create({"name": "RMM desk"})
        cls.product = cls.env["product.product"].create(
            {"name": "Auto-remediation", "type": "service", "list_price": 20.0}
        )
        cls.integration = cls.env["psa.rmm.integration"].create(
            {
                "name": "Test RMM",
                "kind": "native",
                "secret": "s3cret-for-tests",
                "team_id": cls.team.id,
                "charge_product_id": cls.product.id,
                "event_price": 20.0,
                "included_events": 2,
                "overage_price": 15.0,
                "site_ids": [
                    (0, 0, {"rmm_site_id": "site-1", "partner_id": cls.customer.id}),
                    (0, 0, {"rmm_site_id": "site-2", "partner_id": cls.other_customer.id}),
                ],
            }
        )

    def _url(self, integration=None):
        return f"/psa/rmm/{(integration or self.integration).id}/events"

    def _post(self, payload, integration=None, secret=None, timestamp=None, raw=None, signature=None, timeout=12):
        """Sign and post, then perform the processing jobs the request enqueued, as a job worker would."""
        response = self._post_only(payload, integration, secret, timestamp, raw, signature, timeout)
        perform_queued_jobs(self.env, RMM_CHANNEL)
        return response

    def _post_only(self, payload, integration=None, secret=None, timestamp=None, raw=None, signature=None, timeout=12):
        body = raw if raw is not None else json.dumps(payload).encode()
        timestamp = str(int(time.time()) if timestamp is None else timestamp)
        if signature is None:
            signature = "sha256=" + compute_signature(
                secret or (integration or self.integration).sudo().secret, timestamp, body
            )
        return self.url_open(
            self._url(integration),
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-PSA-Timestamp": timestamp,
                "X-PSA-Signature": signature,
            },
            timeout=timeout,
        )

    @staticmethod
    def _event(event_id, event_type="alert.raised", alert_id="A-1", site="site-1", device="dev-1", **alert):
        event = {
            "id": event_id,
            "type": event_type,
            "occurred_at": alert.pop("occurred_at", "2026-11-10T08:00:00Z"),
            "site_id": site,
            "device": {"id": device, "name": f"HOST-{device}", "type": alert.pop("device_type", "server")},
        }
        if event_type.startswith("alert."):
            event["alert"] = {
                "id": alert_id,
                "severity": alert.pop("severity", "warning"),
                "title": alert.pop("title", "Disk C: almost full"),
                "message": alert.pop("message", "Free space below 10%"),
            }
        return event

    def _events(self):
        return self.env["psa.rmm.event"].search([("integration_id", "=", self.integration.id)])

    def _tickets(self, alert_id=None):
        domain = [("psa_rmm_integration_id", "=", self.integration.id)]
        if alert_id:
            domain.append(("psa_rmm_alert_ref", "=", alert_id))
        return self.env["helpdesk.ticket"].search(domain)
