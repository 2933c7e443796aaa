from odoo import fields, models, tools
from odoo.tools import SQL

SERVICE_KINDS = [
    ("alert", "RMM alerts"),
    ("ticket_opened", "Tickets opened by the RMM"),
    ("ticket_closed", "Tickets closed by the RMM"),
]


class PsaDashboardService(models.Model):
    """The service desk's automation, one row per thing it did: an alert the RMM raised, a ticket an alert
    opened, a ticket closed because the RMM resolved its alert by itself."""

    _name = "psa.dashboard.service"
    _inherit = ["psa.reporting.mixin"]
    _description = "PSA Dashboard: Service Desk Automation"
    _auto = False
    _order = "date desc, id desc"

    company_id = fields.Many2one("res.company", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    kind = fields.Selection(SERVICE_KINDS, readonly=True)
    date = fields.Date(readonly=True)
    event_id = fields.Many2one("psa.rmm.event", string="RMM Event", readonly=True)
    ticket_id = fields.Many2one("helpdesk.ticket", string="Ticket", readonly=True)

    def _psa_query(self):
        """Hook for extensions: the query of the view (its columns are the fields of this model)."""
        return SQL(
            """
            SELECT event.id * 3 AS id,
                   event.company_id,
                   partner.commercial_partner_id AS partner_id,
                   'alert' AS kind,
                   event.occurred_at::date AS date,
                   event.id AS event_id,
                   event.ticket_id
              FROM psa_rmm_event event
         LEFT JOIN res_partner partner ON partner.id = event.partner_id
             WHERE event.event_type = 'alert.raised'
         UNION ALL
            SELECT ticket.id * 3 + 1 AS id,
                   ticket.company_id,
                   partner.commercial_partner_id AS partner_id,
                   'ticket_opened' AS kind,
                   ticket.create_date::date AS date,
                   NULL AS event_id,
                   ticket.id AS ticket_id
              FROM helpdesk_ticket ticket
         LEFT JOIN res_partner partner ON partner.id = ticket.partner_id
             WHERE ticket.psa_rmm_integration_id IS NOT NULL
         UNION ALL
            SELECT event.id * 3 + 2 AS id,
                   event.company_id,
                   partner.commercial_partner_id AS partner_id,
                   'ticket_closed' AS kind,
                   event.occurred_at::date AS date,
                   event.id AS event_id,
                   event.ticket_id
              FROM psa_rmm_event event
         LEFT JOIN res_partner partner ON partner.id = event.partner_id
             WHERE event.event_type = 'alert.auto_resolved' AND event.state = 'done' AND event.ticket_id IS NOT NULL
            """
        )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(SQL("CREATE OR REPLACE VIEW %s AS (%s)", SQL.identifier(self._table), self._psa_query()))
