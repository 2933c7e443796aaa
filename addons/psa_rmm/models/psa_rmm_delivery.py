from odoo import fields, models


class PsaRmmDelivery(models.Model):
    """One accepted signed request: its signature is the replay guard."""

    _name = "psa.rmm.delivery"
    _description = "RMM Delivery"
    _order = "id desc"

    integration_id = fields.Many2one("psa.rmm.integration", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="integration_id.company_id", store=True, index=True)
    signature = fields.Char(required=True)
    event_count = fields.Integer()
    duplicate_count = fields.Integer()
    size = fields.Integer(string="Body Size (bytes)")

    _sql_constraints = [
        ("signature_unique", "UNIQUE(integration_id, signature)", "This signed request was already received."),
    ]
