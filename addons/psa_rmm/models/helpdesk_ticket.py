import logging

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_datetime
from odoo.tools import mail as mail_tools

from odoo.addons.psa_orders.tools import locks

from ..tools import contacts
from ..tools.events import priority_for

_logger = logging.getLogger(__name__)


class HelpdeskTicket(models.Model):
    _inherit = "helpdesk.ticket"

    psa_device_id = fields.Many2one("psa.device", string="Device", index=True, tracking=True)
    psa_rmm_integration_id = fields.Many2one("psa.rmm.integration", string="RMM Integration", index=True)
    psa_rmm_alert_ref = fields.Char(string="RMM Alert ID", index=True, copy=False)
    psa_inactivity_warned_at = fields.Datetime(
        string="Inactivity Warning Sent",
        copy=False,
        readonly=True,
        help="When the customer was last warned that this waiting ticket will close; one warning per waiting "
        "period (a stage change or a customer reply starts a new one).",
    )

    # --- first e-mail from an unknown sender --------------------------------------------------

    @api.model
    def message_new(self, msg, custom_values=None):
        """An unknown sender writes to the helpdesk: create the contact (under the customer whose e-mail
        domain matches) before the ticket, so the ticket and the message belong to them."""
        contact, reason = self.browse(), ""
        if not msg.get("author_id") and msg.get("email_from"):
            contact, reason = self._psa_contact_from_email(msg["email_from"])
            if contact:
                # the gateway posts the message with this dict's author after message_new
                msg["author_id"] = contact.id
        ticket = super().message_new(msg, custom_values=custom_values)
        if contact:
            ticket._psa_welcome_new_contact(contact, reason)
        return ticket

    @api.model
    def _psa_contact_from_email(self, email_from):
        """Hook for extensions: create the contact of an unknown sender; return (contact, reason)."""
        partner_model = self.env["res.partner"].sudo()
        email = mail_tools.email_normalize(email_from)
        if not email:
            return partner_model, ""
        self._psa_lock_sender(email)
        domain = contacts.email_domain(email)
        candidates = partner_model.search(
            [
                ("is_company", "=", True),
                "|",
                ("email", "=ilike", f"%@{domain}"),
                ("psa_email_domains", "ilike", domain),
            ]
        )
        extra_free = (self.env["ir.config_parameter"].sudo().get_param("psa_rmm.free_mail_domains") or "").split(",")
        company_id, reason = contacts.match_company(
            email,
            [(c.id, contacts.company_domains(c.email, c.psa_email_domains)) for c in candidates],
            extra_free=extra_free,
        )
        name = mail_tools.parse_contact_from_email(email_from)[0] or email.split("@")[0]
        contact = partner_model.create(
            {"name": name, "email": email, "parent_id": company_id or False, "type": "contact"}
        )
        return contact, reason

    @api.model
    def _psa_lock_sender(self, email):
        """Serialize the first-email decision of one sender address across concurrent transactions.

        A mail gateway may hand several first e-mails of one sender to Odoo at the same moment, each in its
        own transaction, which did not find the sender when it began (REPEATABLE READ). The first to take the
        lock creates the contact; the others wait for it to commit, then see the contact in a fresh cursor that
        their own snapshot cannot show: they fail with a serialization failure, Odoo runs the delivery again,
        and the gateway finds the contact as the author (no second contact, no second portal user).
        """
        self.env.cr.execute("SELECT pg_advisory_xact_lock(%s, %s)", (locks.SENDER_NAMESPACE, locks.lock_key(email)))
        with self.env.registry.cursor() as cr:
            cr.execute("SELECT id FROM res_partner WHERE email_normalized = %s AND active LIMIT 1", [email])
            row = cr.fetchone()
        # sudo: only asks whether this transaction can see the contact at all, whoever may read it
        if row and not self.env["res.partner"].sudo().with_context(active_test=False).browse(row[0]).exists():
            _logger.info("first e-mail of a sender whose contact was just created by another delivery: retried")
            locks.retry_with_fresh_snapshot(self.env.cr)

    def _psa_welcome_new_contact(self, contact, reason):
        """Note why the contact was created and, if their company allows it, give them portal access."""
        self.ensure_one()
        company = contact.parent_id
        if company:
            note = self.env._(
                "New contact %(contact)s created from this first e-mail and attached to %(company)s: %(reason)s.",
                contact=contact.email,
                company=company.name,
                reason=reason,
            )
        else:
            note = self.env._(
                "New contact %(contact)s created from this first e-mail, attached to no customer: %(reason)s.",
                contact=contact.email,
                reason=reason,
            )
        if company.psa_portal_on_first_email:
            try:
                with self.env.cr.savepoint():
                    wizard = self.env["portal.wizard"].sudo().create({"partner_ids": [(6, 0, contact.ids)]})
                    wizard.user_ids.filtered(lambda u: u.partner_id == contact).action_grant_access()
            except UserError as error:
                # never bounce the customer's e-mail because the invitation failed: say why instead
                note += " " + self.env._("Portal access not granted: %(error)s", error=str(error))
            else:
                self.sudo().message_subscribe(partner_ids=contact.ids)
                note += " " + self.env._(
                    "Portal user invited to follow this ticket (%(company)s allows it).", company=company.name
                )
        self.sudo()._message_log(body=note)

    def _message_post_after_hook(self, message, msg_vals):
        result = super()._message_post_after_hook(message, msg_vals)
        if message.message_type in ("email", "comment") and self._psa_is_customer_author(message.author_id):
            self._psa_customer_replied()
        return result

    def _psa_is_customer_author(self, author):
        """Hook for extensions: whether a message author speaks for the customer (not our staff)."""
        return bool(author) and not any(not user.share for user in author.user_ids)

    def _psa_customer_replied(self):
        """The customer answered: a ticket waiting on them for the inactivity auto-close is not dormant any
        more. OCA's helpdesk_ticket_close_inactive only looks at the last stage change, so restart that clock
        (and move the ticket to the team's reply stage when set)."""
        for ticket in self.sudo():
            team = ticket.team_id
            if not team.close_inactive_tickets or ticket.stage_id not in team.ticket_stage_ids:
                continue
            vals = {"last_stage_update": fields.Datetime.now()}
            if team.psa_reply_stage_id:
                vals["stage_id"] = team.psa_reply_stage_id.id
            ticket.write(vals)
            ticket.message_post(
                body=self.env._("The customer replied: the inactivity auto-close clock restarts."),
                message_type="notification",
                subtype_xmlid="mail.mt_note",
            )

    @api.model
    def _psa_rmm_closed_stage(self, team):
        """Hook for extensions: the closed stage tickets of ``team`` resolved by the RMM move to."""
        stages = team._get_applicable_stages().filtered("closed")
        done = self.env.ref("helpdesk_mgmt.helpdesk_ticket_stage_done", raise_if_not_found=False)
        return done if done in stages else stages[:1]

    def _psa_rmm_open_note(self, event):
        """Hook for extensions: the note saying which RMM event opened the ticket (its reason)."""
        self.ensure_one()
        return Markup("<p>%s</p>") % self.env._(
            "Opened automatically from RMM event %(event)s of %(integration)s: alert %(alert)s raised on "
            "%(device)s at %(when)s (severity %(severity)s).",
            event=event.rmm_event_id,
            integration=event.integration_id.name,
            alert=event.alert_id,
            device=event.device_name or event.rmm_device_id,
            when=self._psa_format_when(event.occurred_at),
            severity=event.severity,
        )

    def _psa_format_when(self, moment):
        """A moment as a person reads it in a sentence: the reader's date format and time zone, named."""
        tz = self.env.user.tz or self.env.company.partner_id.tz or "UTC"
        return f"{format_datetime(self.env, moment, tz=tz, dt_format='medium')} ({tz})"

    def _psa_rmm_repeat_note(self, event):
        """A repeated alert: raise the priority if it got worse; return the note for the ticket."""
        self.ensure_one()
        priority = priority_for(event.severity)
        if priority > (self.priority or "0"):
            self.priority = priority
        return Markup("<p>%s</p><p>%s</p>") % (
            self.env._(
                "The RMM reported this alert again at %(when)s (severity %(severity)s, event %(event)s).",
                when=self._psa_format_when(event.occurred_at),
                severity=event.severity,
                event=event.rmm_event_id,
            ),
            event.message or event.title or "",
        )

    def _psa_rmm_close_note(self, event):
        """The RMM resolved the alert by itself: the note of the closed ticket."""
        self.ensure_one()
        return Markup("<p>%s</p>") % self.env._(
            "Closed automatically: the RMM resolved the alert by itself at %(when)s (event %(event)s).",
            when=self._psa_format_when(event.occurred_at),
            event=event.rmm_event_id,
        )
