import hashlib
import json
import secrets
import time
from collections import defaultdict

from markupsafe import Markup

from odoo import api, fields, models

from ..tools import adapters, events

INTEGRATION_KINDS = [
    ("native", "PSA event format"),
    ("tacticalrmm", "Tactical RMM"),
    ("ninjaone", "NinjaOne"),
]


class PsaRmmIntegration(models.Model):
    """An RMM that posts events to ``/psa/rmm/<id>/events``, signed with its own HMAC secret."""

    _name = "psa.rmm.integration"
    _description = "RMM Integration"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _check_company_auto = True

    name = fields.Char(required=True, tracking=True)
    kind = fields.Selection(
        INTEGRATION_KINDS,
        string="Payload Format",
        required=True,
        default="native",
        tracking=True,
        help="Which adapter reads the posted JSON: our documented format or an RMM's own webhook shape.",
    )
    active = fields.Boolean(default=True, tracking=True)
    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)
    secret = fields.Char(
        string="HMAC Secret",
        copy=False,
        groups="helpdesk_mgmt.group_helpdesk_manager",
        default=lambda self: secrets.token_hex(32),
        help="Shared secret: requests carry HMAC-SHA256('<timestamp>.<raw body>') in X-PSA-Signature.",
    )
    max_skew_seconds = fields.Integer(
        string="Allowed Clock Skew (s)",
        default=300,
        required=True,
        help="Requests whose X-PSA-Timestamp is further than this from our clock are refused.",
    )
    max_body_bytes = fields.Integer(string="Max Body Size (bytes)", default=5_000_000, required=True)
    team_id = fields.Many2one(
        "helpdesk.ticket.team", string="Helpdesk Team", check_company=True, help="Team of the tickets alerts open."
    )
    site_ids = fields.One2many("psa.rmm.site", "integration_id", string="Sites")
    event_ids = fields.One2many("psa.rmm.event", "integration_id", string="Events")
    event_count = fields.Integer(compute="_compute_event_count")
    parked_count = fields.Integer(compute="_compute_event_count")
    charge_product_id = fields.Many2one(
        "product.product",
        string="Auto-resolve Product",
        check_company=True,
        help="Product of the charges for alerts the RMM resolved by itself.",
    )
    event_price = fields.Float(string="Price per Event", digits="Product Price")
    included_events = fields.Integer(
        string="Included Events / Month", help="Auto-resolved events per customer and month that cost nothing."
    )
    overage_price = fields.Float(
        string="Overage Price", digits="Product Price", help="Price of each event beyond the included quantity."
    )
    endpoint_path = fields.Char(compute="_compute_endpoint_path")

    _sql_constraints = [
        ("max_skew_positive", "CHECK(max_skew_seconds > 0)", "The allowed clock skew must be positive."),
        ("max_body_positive", "CHECK(max_body_bytes > 0)", "The maximum body size must be positive."),
    ]

    def _compute_endpoint_path(self):
        for integration in self:
            integration.endpoint_path = f"/psa/rmm/{integration.id or 0}/events"

    def _compute_event_count(self):
        counts = {
            (integration.id, state): count
            for integration, state, count in self.env["psa.rmm.event"]._read_group(
                [("integration_id", "in", self.ids)], ["integration_id", "state"], ["__count"]
            )
        }
        for integration in self:
            integration.event_count = sum(v for (i, _s), v in counts.items() if i == integration.id)
            integration.parked_count = counts.get((integration.id, "parked"), 0)

    def action_regenerate_secret(self):
        for integration in self:
            integration.sudo().secret = secrets.token_hex(32)
            integration.message_post(body=self.env._("A new HMAC secret was generated; the old one no longer works."))
        return True

    def action_view_events(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("psa_rmm.action_psa_rmm_event")
        action["domain"] = [("integration_id", "=", self.id)]
        return action

    # --- inbound requests ----------------------------------------------------------------------

    def _psa_authenticate(self, timestamp_header, signature_header, body, now=None):
        """Check signature, freshness and replay of a request; raise ``events.EventError`` when refused.

        Hook for extensions (e.g. another signature scheme for an RMM that signs natively).
        """
        self.ensure_one()
        if len(body) > self.max_body_bytes:
            raise events.EventError(413, "payload_too_large", f"The body exceeds {self.max_body_bytes} bytes.")
        events.verify_request(
            self.sudo().secret,
            timestamp_header,
            signature_header,
            body,
            time.time() if now is None else now,
            self.max_skew_seconds,
        )
        if (
            self.env["psa.rmm.delivery"]
            .sudo()
            .search_count([("integration_id", "=", self.id), ("signature", "=", signature_header)], limit=1)
        ):
            raise events.EventError(409, "replay", "This signed request was already received.")

    def _psa_parse(self, body):
        """Raw body -> list of normalized events in our format. Hook for extensions (more adapters)."""
        self.ensure_one()
        data = events.load_json(body, self.max_body_bytes)
        return adapters.parse_payload(self.kind, data)

    def _psa_receive(self, normalized, signature, body_size=0, process_now=False):
        """Record a delivery and its events (duplicates skipped) and enqueue their processing: one queue job
        per delivery on ``root.psa.rmm`` (``psa.rmm.delivery._psa_job_process``); ``process_now`` processes
        them in this transaction instead (demo data).

        Returns ``(delivery, results)``, results a list of ``{"event_id", "status", "reason"}`` in the order
        received: ``received`` (queued for processing) or ``duplicate``.
        """
        self.ensure_one()
        event_model = self.env["psa.rmm.event"].sudo()
        ids = [event["event_id"] for event in normalized]
        known = set(
            event_model.search([("integration_id", "=", self.id), ("rmm_event_id", "in", ids)]).mapped("rmm_event_id")
        )
        delivery = (
            self.env["psa.rmm.delivery"]
            .sudo()
            .create({"integration_id": self.id, "signature": signature, "event_count": len(ids), "size": body_size})
        )
        vals_list, seen = [], set()
        for event in normalized:
            if event["event_id"] in known or event["event_id"] in seen:
                continue
            seen.add(event["event_id"])
            vals_list.append(self._psa_prepare_event_vals(event, delivery))
        created = event_model.create(vals_list)
        if process_now:
            created._psa_process()
            delivery._psa_record_outcome()
        elif created:
            delivery._psa_enqueue_processing()
        else:
            delivery.write({"state": "done", "reason": self.env._("Nothing new: every event was already received.")})
        by_ref = {event.rmm_event_id: event for event in created}
        results, reported = [], set()
        for event in normalized:
            record = by_ref.get(event["event_id"])
            if record and event["event_id"] not in reported:
                reported.add(event["event_id"])
                reason = record.reason or "queued for processing"
                results.append({"event_id": record.rmm_event_id, "status": record.state, "reason": reason})
            else:
                results.append({"event_id": event["event_id"], "status": "duplicate", "reason": "already received"})
        delivery.duplicate_count = sum(1 for r in results if r["status"] == "duplicate")
        return delivery, results

    def _psa_prepare_event_vals(self, event, delivery):
        """Hook for extensions: values of the ``psa.rmm.event`` recording one normalized event."""
        return {
            "integration_id": self.id,
            "company_id": self.company_id.id,
            "delivery_id": delivery.id,
            "rmm_event_id": event["event_id"],
            "event_type": event["type"],
            "occurred_at": event["occurred_at"],
            "rmm_site_id": event["site_id"],
            "rmm_device_id": event["device_id"],
            "device_name": event["device_name"] or event["device_id"],
            "device_type": event["device_type"],
            "alert_id": event["alert_id"] or False,
            "severity": event["severity"] or False,
            "title": event["title"] or False,
            "message": event["message"] or False,
            "payload": json.dumps(event, default=str),
        }

    def _psa_demo_events(self, raw_events):
        """Feed events in the PSA format as if posted (demo data), without a signature check."""
        self.ensure_one()
        normalized = events.normalize_batch(raw_events)
        signature = "demo:" + hashlib.sha256(json.dumps(raw_events, sort_keys=True).encode()).hexdigest()
        return self._psa_receive(normalized, signature, process_now=True)[1]

    @api.model
    def _cron_purge_deliveries(self, batch_size=5000):
        """Drop replay-guard rows older than a day (far beyond any allowed skew)."""
        cutoff = fields.Datetime.subtract(fields.Datetime.now(), days=1)
        # deliveries still queued, parked or failed are kept: a person retries them from their form
        domain = [("create_date", "<", cutoff), ("state", "=", "done")]
        old = self.env["psa.rmm.delivery"].sudo().search(domain, limit=batch_size)
        remaining = self.env["psa.rmm.delivery"].sudo().search_count(domain) - len(old)
        old.unlink()
        self.env["ir.cron"]._notify_progress(done=len(old), remaining=remaining)

    @api.model
    def _cron_remind_parked_events(self, batch_size=1000):
        """One activity per integration with parked events, for its helpdesk team leader (else who set the
        integration up): it says which RMM sites to map. Marked done once nothing is parked any more."""
        activity_type = self.env.ref("psa_rmm.mail_activity_type_psa_rmm_parked")
        rows = (
            self.env["psa.rmm.event"]
            .sudo()
            ._read_group([("state", "=", "parked")], ["integration_id", "rmm_site_id"], ["__count"], limit=batch_size)
        )
        parked = defaultdict(list)
        for integration, site, count in rows:
            parked[integration].append((site or "?", count))
        wanted = {}
        for integration, sites in parked.items():
            user = integration.team_id.user_id or integration.create_uid
            if not user.active or user.share:
                continue
            total = sum(count for _site, count in sites)
            wanted[integration.id] = {
                "user_id": user.id,
                "summary": self.env._("%(count)s RMM events parked", count=total),
                "note": Markup("<p>%s</p>")
                % self.env._(
                    "%(count)s events of %(integration)s are parked: RMM site(s) %(sites)s are not mapped to a "
                    "customer. Map each site on the integration's Sites tab, then select the events in RMM "
                    "Events and process them again.",
                    count=total,
                    integration=integration.name,
                    sites=", ".join(f"{site} ({count})" for site, count in sorted(sites)),
                ),
            }
        self.env["ir.cron"]._notify_progress(done=len(wanted), remaining=0)
        return self.env["mail.activity"]._psa_sync_activities(
            activity_type,
            self._name,
            wanted,
            done_feedback=self.env._("No event of this integration is parked any more."),
        )
