from datetime import datetime, time, timedelta

from odoo import fields, models


class HelpdeskTicketTeam(models.Model):
    _inherit = "helpdesk.ticket.team"

    psa_reply_stage_id = fields.Many2one(
        "helpdesk.ticket.stage",
        string="Stage on Customer Reply",
        help="A customer reply to a ticket waiting in one of the inactivity stages moves it here (the "
        "inactivity clock restarts either way).",
    )

    def close_team_inactive_tickets(self):
        """Warn once per waiting period, then let OCA close.

        OCA warns only the tickets that entered their waiting stage exactly N days ago, and again on every
        rerun that day: a cron missed for a day never warns, a rerun warns twice. Here a ticket is warned when
        it has waited N days or more, is not about to close, and was not warned since it started waiting (the
        stage change or the customer's last reply); OCA's own warning phase is switched off for the call and
        its closing phase runs unchanged.
        """
        teams = self or self.search([("close_inactive_tickets", "=", True)])
        result = {"warning_email_ids": [], "closing_email_ids": []}
        limit_field = self._fields["inactive_tickets_day_limit_warning"]
        for team in teams:
            result["warning_email_ids"] += team._psa_send_inactivity_warnings()
            # OCA reads this limit once per team; 0 disables its exact-day warning (cache only, never stored)
            self.env.cache.set(team, limit_field, 0)
            try:
                oca = super(HelpdeskTicketTeam, team).close_team_inactive_tickets()
            finally:
                team.invalidate_recordset(["inactive_tickets_day_limit_warning"])
            result["warning_email_ids"] += oca.get("warning_email_ids") or []
            result["closing_email_ids"] += oca.get("closing_email_ids") or []
        return result

    def _psa_get_inactivity_warning_domain(self, now):
        """Hook for extensions: tickets of this team waiting N (calendar) days or more, not yet closing."""
        self.ensure_one()
        warning_day = (now - timedelta(days=self.inactive_tickets_day_limit_warning)).date()
        domain = [
            ("team_id", "=", self.id),
            ("stage_id", "in", self.ticket_stage_ids.ids),
            ("last_stage_update", "<=", datetime.combine(warning_day, time.max)),
            ("last_stage_update", ">", now - timedelta(days=self.inactive_tickets_day_limit_closing)),
        ]
        if self.ticket_category_ids:
            domain.append(("category_id", "in", self.ticket_category_ids.ids))
        return domain

    def _psa_send_inactivity_warnings(self):
        """E-mail the inactivity warning to each ticket due for one, once per waiting period; note it on the
        ticket. Returns the ids of the mails. Idempotent: a rerun finds the tickets already warned."""
        self.ensure_one()
        if self.inactive_tickets_day_limit_warning <= 0 or not self.warning_inactive_mail_template_id:
            return []
        now = fields.Datetime.now()
        tickets = (
            self.env["helpdesk.ticket"]
            .search(self._psa_get_inactivity_warning_domain(now))
            .filtered(lambda t: not t.psa_inactivity_warned_at or t.psa_inactivity_warned_at < t.last_stage_update)
        )
        mail_ids = []
        for ticket in tickets:
            waited = (now.date() - ticket.last_stage_update.date()).days
            remaining = max(self.inactive_tickets_day_limit_closing - waited, 1)
            mail_id = self.warning_inactive_mail_template_id.with_context(
                stage=ticket.stage_id.name, close=False, remaining_days=remaining
            ).send_mail(ticket.id)
            if mail_id:
                mail_ids.append(mail_id)
            ticket.message_post(
                body=self.env._(
                    "Inactivity warning e-mailed to the customer: waiting for %(days)s days in %(stage)s; the "
                    "ticket closes in %(remaining)s days unless the customer replies.",
                    days=waited,
                    stage=ticket.stage_id.name,
                    remaining=remaining,
                ),
                message_type="notification",
                subtype_xmlid="mail.mt_note",
            )
        tickets.write({"psa_inactivity_warned_at": now})
        return mail_ids
