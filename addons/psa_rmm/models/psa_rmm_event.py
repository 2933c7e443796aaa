from collections import defaultdict

from markupsafe import Markup

from odoo import fields, models
from odoo.exceptions import UserError

from ..tools import billing
from ..tools.events import EVENT_TYPES, priority_for
from .psa_device import DEVICE_TYPES

# What a person reads for the documented event types (the stored value is the wire format's)
EVENT_TYPE_LABELS = {
    "alert.raised": "Alert raised",
    "alert.updated": "Alert updated",
    "alert.auto_resolved": "Alert resolved by the RMM",
    "device.upserted": "Device registered or updated",
    "device.removed": "Device removed",
}
EVENT_STATES = [
    ("received", "Received"),
    ("done", "Processed"),
    ("parked", "Parked for review"),
]


class PsaRmmEvent(models.Model):
    """The log of every event an RMM posted: unique per integration and RMM event id (idempotency),
    with what was done about it and why."""

    _name = "psa.rmm.event"
    _description = "RMM Event"
    _order = "occurred_at desc, id desc"
    _check_company_auto = True

    integration_id = fields.Many2one("psa.rmm.integration", required=True, ondelete="restrict", index=True)
    company_id = fields.Many2one("res.company", required=True, index=True)
    delivery_id = fields.Many2one("psa.rmm.delivery", ondelete="set null")
    rmm_event_id = fields.Char(string="RMM Event ID", required=True)
    event_type = fields.Selection(
        [(t, EVENT_TYPE_LABELS.get(t, t)) for t in EVENT_TYPES], required=True, index=True, string="Event"
    )
    occurred_at = fields.Datetime(required=True)
    rmm_site_id = fields.Char(string="RMM Site ID", index=True)
    rmm_device_id = fields.Char(string="RMM Device ID")
    device_name = fields.Char()
    device_type = fields.Selection(DEVICE_TYPES)
    alert_id = fields.Char(string="RMM Alert ID", index=True)
    severity = fields.Char()
    title = fields.Char()
    message = fields.Text()
    payload = fields.Text(help="The event as normalized from the request.")
    state = fields.Selection(EVENT_STATES, default="received", required=True, index=True)
    reason = fields.Char(help="What was done with the event and why.")
    partner_id = fields.Many2one("res.partner", string="Customer", index=True)
    device_id = fields.Many2one("psa.device", index=True)
    ticket_id = fields.Many2one("helpdesk.ticket", index=True)
    charge_ids = fields.One2many("psa.rmm.charge", "event_id")

    _sql_constraints = [
        (
            "rmm_event_unique",
            "UNIQUE(integration_id, rmm_event_id)",
            "This RMM event was already received for this integration.",
        ),
    ]

    def action_reprocess(self):
        """Process parked events again, e.g. once their site is mapped to a customer."""
        parked = self.filtered(lambda e: e.state == "parked")
        if not parked:
            raise UserError(self.env._("Only parked events can be processed again (rule: processed events are final)."))
        parked.sudo()._psa_process()
        # what a person resolved closes their activity now, not at the next hourly run
        self.env["psa.rmm.integration"]._cron_remind_parked_events()
        return True

    # --- processing ---------------------------------------------------------------------------

    def _psa_process(self):
        """Resolve customers and devices, then turn alerts into tickets and charges. Batched per integration."""
        todo = self.filtered(lambda e: e.state in ("received", "parked")).sorted(lambda e: (e.occurred_at, e.id))
        for integration in todo.integration_id:
            events = todo.filtered(lambda e, i=integration: e.integration_id == i)
            sites = self.env["psa.rmm.site"].search(
                [
                    ("integration_id", "=", integration.id),
                    ("rmm_site_id", "in", list(set(events.mapped("rmm_site_id")))),
                ]
            )
            partner_by_site = {site.rmm_site_id: site.partner_id for site in sites}
            site_by_ref = {site.rmm_site_id: site for site in sites}
            unknown = events.filtered(lambda e, m=partner_by_site: e.rmm_site_id not in m)
            unknown.write(
                {
                    "state": "parked",
                    "reason": self.env._("Parked: RMM site is not mapped to a customer (map it, then reprocess)."),
                }
            )
            known = events - unknown
            for site_ref, partner in partner_by_site.items():
                known.filtered(lambda e, s=site_ref: e.rmm_site_id == s).partner_id = partner
            known._psa_sync_devices(integration)
            known.filtered(lambda e: e.event_type.startswith("alert."))._psa_handle_alerts(integration, site_by_ref)

    def _psa_sync_devices(self, integration):
        """Register unknown devices, refresh known ones, archive removed ones (one search, one create)."""
        if not self:
            return
        # the event log says why each device was registered or changed: no chatter per device write
        device_model = (
            self.env["psa.device"]
            .sudo()
            .with_context(
                active_test=False, tracking_disable=True, mail_create_nolog=True, mail_create_nosubscribe=True
            )
        )
        source = integration.kind
        devices = device_model.search(
            [
                ("company_id", "=", integration.company_id.id),
                ("rmm_source", "=", source),
                ("rmm_device_id", "in", list(set(self.mapped("rmm_device_id")))),
            ]
        )
        by_ref = {device.rmm_device_id: device for device in devices}
        new_vals = {}
        for event in self:
            if event.rmm_device_id in by_ref or event.rmm_device_id in new_vals:
                continue
            if event.event_type == "device.removed":
                continue
            new_vals[event.rmm_device_id] = self._psa_prepare_device_vals(event, integration)
        if new_vals:
            for device in device_model.create(list(new_vals.values())):
                by_ref[device.rmm_device_id] = device
        device_vals = defaultdict(dict)
        event_groups = defaultdict(lambda: self.env["psa.rmm.event"])
        for event in self:
            device = by_ref.get(event.rmm_device_id)
            reason = False
            vals = device_vals[device.id] if device else {}
            if not device:
                reason = self.env._("Device unknown: nothing to remove.")
            elif event.event_type == "device.removed":
                vals.update(active=False, removed_at=event.occurred_at)
                reason = self.env._("Device %(device)s archived: removed from the RMM.", device=device.name)
            else:
                last_seen = vals.get("last_seen") or device.last_seen
                if not last_seen or event.occurred_at > last_seen:
                    vals["last_seen"] = event.occurred_at
                if event.event_type == "device.upserted":
                    vals.update(active=True, removed_at=False, partner_id=event.partner_id.id)
                    if event.device_name:
                        vals["name"] = event.device_name
                    if event.device_type:
                        vals["device_type"] = event.device_type
                    reason = self.env._("Device %(device)s registered / updated.", device=event.device_name)
            event_groups[(device.id if device else False, reason)] |= event
        for device_id, vals in device_vals.items():
            if vals:
                device_model.browse(device_id).write(vals)
        for (device_id, reason), events in event_groups.items():
            events.write(
                {"device_id": device_id, "state": "done", "reason": reason} if reason else {"device_id": device_id}
            )

    def _psa_prepare_device_vals(self, event, integration):
        """Hook for extensions: values of a device auto-registered from an event."""
        return {
            "name": event.device_name or event.rmm_device_id,
            "partner_id": event.partner_id.id,
            "company_id": integration.company_id.id,
            "device_type": event.device_type or "other",
            "rmm_source": integration.kind,
            "rmm_device_id": event.rmm_device_id,
            "first_seen": event.occurred_at,
            "last_seen": event.occurred_at,
        }

    def _psa_prepare_ticket_vals(self, integration):
        """Hook for extensions: values of the ticket an alert opens."""
        self.ensure_one()
        title = self.title or self.env._("RMM alert")
        return {
            "name": f"[{self.device_name}] {title}" if self.device_name else title,
            "description": Markup("<p>%s</p><p>%s</p>")
            % (
                self.message or title,
                self.env._(
                    "Opened automatically from RMM alert %(alert)s (severity %(severity)s) of %(integration)s.",
                    alert=self.alert_id,
                    severity=self.severity,
                    integration=integration.name,
                ),
            ),
            "partner_id": self.partner_id.id,
            "company_id": integration.company_id.id,
            "team_id": integration.team_id.id or False,
            "priority": priority_for(self.severity),
            "psa_device_id": self.device_id.id,
            "psa_rmm_integration_id": integration.id,
            "psa_rmm_alert_ref": self.alert_id,
        }

    def _psa_handle_alerts(self, integration, site_by_ref):
        """Open one ticket per new alert, update the open one on repeats, close it and charge on auto-resolve.

        Tickets are written in batches without mail tracking (the event log and the notes say what happened),
        so thousands of alerts in one request stay fast.
        """
        if not self:
            return
        ticket_model = (
            self.env["helpdesk.ticket"]
            .sudo()
            .with_context(tracking_disable=True, mail_create_nolog=True, mail_create_nosubscribe=True)
        )
        team = integration.team_id
        first_stage = team._get_applicable_stages()[:1]
        closed_stage = ticket_model._psa_rmm_closed_stage(team)
        open_tickets = ticket_model.search(
            [
                ("psa_rmm_integration_id", "=", integration.id),
                ("psa_rmm_alert_ref", "in", list(set(self.mapped("alert_id")))),
                ("stage_id.closed", "=", False),
            ]
        )
        ticket_by_ref = {ticket.psa_rmm_alert_ref: ticket for ticket in open_tickets}

        def open_tickets_for(events):
            vals_list = [event._psa_prepare_ticket_vals(integration) for event in events]
            if first_stage:
                for vals in vals_list:
                    vals.setdefault("stage_id", first_stage.id)
            return ticket_model.create(vals_list)

        openers, opener_refs = self.env["psa.rmm.event"], set()
        for event in self:
            if (
                event.event_type != "alert.auto_resolved"
                and event.alert_id not in ticket_by_ref
                and event.alert_id not in opener_refs
            ):
                openers |= event
                opener_refs.add(event.alert_id)
        notes = defaultdict(list)
        if openers:
            for event, ticket in zip(openers, open_tickets_for(openers), strict=True):
                ticket_by_ref[event.alert_id] = ticket
                notes[ticket.id].append(ticket._psa_rmm_open_note(event))
                event.write(
                    {
                        "ticket_id": ticket.id,
                        "state": "done",
                        "reason": self.env._("Ticket %(ticket)s opened.", ticket=ticket.number),
                    }
                )
        to_close = ticket_model
        to_charge = self.env["psa.rmm.event"]
        for event in self - openers:
            ticket = ticket_by_ref.get(event.alert_id)
            if event.event_type == "alert.auto_resolved":
                to_charge |= event
                if ticket:
                    notes[ticket.id].append(ticket._psa_rmm_close_note(event))
                    to_close |= ticket
                    del ticket_by_ref[event.alert_id]
                    reason = self.env._("Ticket %(ticket)s closed: resolved by the RMM.", ticket=ticket.number)
                else:
                    reason = self.env._("No open ticket for this alert: nothing to close.")
            elif ticket:
                notes[ticket.id].append(ticket._psa_rmm_repeat_note(event))
                reason = self.env._("Repeated alert: open ticket %(ticket)s updated.", ticket=ticket.number)
            else:
                # raised again after an auto-resolve earlier in this same batch
                ticket = open_tickets_for(event)
                ticket_by_ref[event.alert_id] = ticket
                notes[ticket.id].append(ticket._psa_rmm_open_note(event))
                reason = self.env._("Ticket %(ticket)s opened.", ticket=ticket.number)
            event.write({"ticket_id": ticket.id if ticket else False, "state": "done", "reason": reason})
        if to_close and closed_stage:
            to_close.write({"stage_id": closed_stage.id})
        if notes:
            ticket_model.browse(list(notes))._message_log_batch(
                bodies={ticket_id: Markup("").join(parts) for ticket_id, parts in notes.items()}
            )
        to_charge._psa_create_charges(integration, site_by_ref)

    def _psa_create_charges(self, integration, site_by_ref):
        """Charge auto-resolved events by the customer's terms: included quantity per month, then overage."""
        if not self:
            return
        product = integration.charge_product_id
        if not product:
            for event in self:
                event.reason = self.env._(
                    "%(reason)s Not charged: integration %(name)s has no auto-resolve product.",
                    reason=event.reason,
                    name=integration.name,
                )
            return
        charge_model = self.env["psa.rmm.charge"].sudo()
        months = {billing.month_bounds(event.occurred_at) for event in self}
        first, last = min(m[0] for m in months), max(m[1] for m in months)
        counts = defaultdict(int)
        for partner, month, count in charge_model._read_group(
            [("partner_id", "in", self.partner_id.ids), ("date", ">=", first), ("date", "<=", last)],
            ["partner_id", "date:month"],
            ["__count"],
        ):
            counts[(partner.id, billing.month_bounds(month)[0])] += count
        vals_list = []
        for event in self:
            site = site_by_ref[event.rmm_site_id]
            event_price, included, overage, terms = site._psa_terms()
            key = (event.partner_id.id, billing.month_bounds(event.occurred_at)[0])
            counts[key] += 1
            price, rule = billing.price_event(counts[key], included, event_price, overage)
            vals_list.append(event._psa_prepare_charge_vals(product, price, rule, terms))
        charge_model.create(vals_list)

    def _psa_prepare_charge_vals(self, product, price, rule, terms):
        """Hook for extensions: values of the charge of one auto-resolved event."""
        self.ensure_one()
        return {
            "event_id": self.id,
            "integration_id": self.integration_id.id,
            "company_id": self.company_id.id,
            "partner_id": self.partner_id.id,
            "device_id": self.device_id.id,
            "ticket_id": self.ticket_id.id,
            "date": self.occurred_at.date(),
            "product_id": product.id,
            "quantity": 1.0,
            "price_unit": price,
            "explanation": self.env._(
                "Alert %(alert)s on %(device)s auto-resolved by the RMM at %(when)s (event %(event)s): "
                "%(rule)s, %(terms)s.",
                alert=self.title or self.alert_id,
                device=self.device_id.name or self.rmm_device_id,
                when=fields.Datetime.to_string(self.occurred_at),
                event=self.rmm_event_id,
                rule=rule,
                terms=terms,
            ),
        }
