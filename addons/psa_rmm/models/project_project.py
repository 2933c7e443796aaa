from odoo import api, models


class ProjectProject(models.Model):
    _inherit = "project.project"

    @api.model
    def _psa_get_engagement_domain(self):
        """A helpdesk team's project (where its tickets' time goes) is the service desk's, not an engagement."""
        # As superuser: the teams' projects (one per company, company-dependent) are read to filter the list only
        teams = self.env["helpdesk.ticket.team"].sudo().with_context(active_test=False).search([])
        projects = self.env["project.project"]
        for company in self.env["res.company"].sudo().search([]):
            projects |= teams.with_company(company).default_project_id
        return [*super()._psa_get_engagement_domain(), ("id", "not in", projects.ids)]
