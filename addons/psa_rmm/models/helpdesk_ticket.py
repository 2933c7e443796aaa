from markupsafe import Markup

from odoo import api, fields, models

from ..tools.events import priority_for


class HelpdeskTicket(models.Model):
    _inherit = "helpdesk.ticket"

    psa_device_id = fields.Many2one("psa.device", string="Device", index=True, tracking=True)
    psa_rmm_integration_id = fields.Many2one("psa.rmm.integration", string="RMM Integration", index=True)
    psa_rmm_alert_ref = fields.Char(string="RMM Alert ID", index=True, copy=False)

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

    def _psa_rmm_repeat_note(self, event):
        """A repeated alert: raise the priority if it got worse; return the note for the ticket."""
        self.ensure_one()
        priority = priority_for(event.severity)
        if priority > (self.priority or "0"):
            self.priority = priority
        return Markup("<p>%s</p><p>%s</p>") % (
            self.env._(
                "The RMM reported this alert again at %(when)s (severity %(severity)s, event %(event)s).",
                when=fields.Datetime.to_string(event.occurred_at),
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
            when=fields.Datetime.to_string(event.occurred_at),
            event=event.rmm_event_id,
        )
