from odoo import api, fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    # setup checklist (Settings > PSA)
    psa_setup_rmm_done = fields.Boolean(compute="_compute_psa_setup_rmm")

    @api.depends("company_id")
    def _compute_psa_setup_rmm(self):
        for settings in self:
            # sudo: only whether the RMMs post signed events is shown (never the secrets), to administrators
            integrations = self.env["psa.rmm.integration"].sudo().search([("company_id", "=", settings.company_id.id)])
            # an RMM that posted a signed event has its secret; one that never did is still to be set up
            posted = {
                integration
                for [integration] in self.env["psa.rmm.event"]
                .sudo()
                ._read_group([("integration_id", "in", integrations.ids)], ["integration_id"])
            }
            settings.psa_setup_rmm_done = bool(integrations) and all(
                integration.secret and integration in posted for integration in integrations
            )
