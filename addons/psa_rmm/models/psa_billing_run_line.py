from odoo import fields, models


class PsaBillingRunLine(models.Model):
    _inherit = "psa.billing.run.line"

    source_type = fields.Selection(selection_add=[("rmm_charge", "RMM charge")], ondelete={"rmm_charge": "set null"})
