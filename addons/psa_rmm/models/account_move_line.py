from odoo import fields, models


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    psa_rmm_charge_ids = fields.One2many("psa.rmm.charge", "invoice_line_id", string="RMM Charges")
    psa_device_snapshot_id = fields.Many2one("psa.device.snapshot", string="Device Snapshot", readonly=True)
