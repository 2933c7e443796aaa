from odoo import api, fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    # The PSA setup checklist (Settings > PSA): each item says whether it is done; the add-ons add theirs.
    psa_setup_lead_source_done = fields.Boolean(compute="_compute_psa_setup_orders")

    @api.depends("company_id")
    def _compute_psa_setup_orders(self):
        for settings in self:
            # sudo: only whether one exists is shown, on a page for administrators
            settings.psa_setup_lead_source_done = bool(
                self.env["psa.lead.source"].sudo().search_count([("company_id", "=", settings.company_id.id)], limit=1)
            )
