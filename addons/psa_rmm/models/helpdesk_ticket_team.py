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
        """OCA sends the warning e-mail without a trace on the ticket: leave a note saying when it will close."""
        result = super().close_team_inactive_tickets()
        mails = self.env["mail.mail"].sudo().browse(result.get("warning_email_ids") or []).exists()
        tickets = self.env["helpdesk.ticket"].browse(
            {mail.res_id for mail in mails if mail.model == "helpdesk.ticket" and mail.res_id}
        )
        for ticket in tickets:
            team = ticket.team_id
            ticket.message_post(
                body=self.env._(
                    "Inactivity warning e-mailed to the customer: waiting for %(days)s days in %(stage)s; the "
                    "ticket closes in %(remaining)s days unless the customer replies.",
                    days=team.inactive_tickets_day_limit_warning,
                    stage=ticket.stage_id.name,
                    remaining=team.inactive_tickets_day_limit_closing - team.inactive_tickets_day_limit_warning,
                ),
                message_type="notification",
                subtype_xmlid="mail.mt_note",
            )
        return result
