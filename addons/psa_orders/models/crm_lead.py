from odoo import fields, models


class CrmLead(models.Model):
    _inherit = "crm.lead"

    psa_lead_source_id = fields.Many2one(
        "psa.lead.source", string="External Source", readonly=True, index="btree_not_null", copy=False
    )
