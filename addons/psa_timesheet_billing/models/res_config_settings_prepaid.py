from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    psa_prepaid_topup = fields.Boolean(related="company_id.psa_prepaid_topup", readonly=False)
