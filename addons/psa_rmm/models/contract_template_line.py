from odoo import fields, models

from .psa_device import DEVICE_TYPES


class ContractTemplateLine(models.Model):
    _inherit = "contract.template.line"

    psa_device_type = fields.Selection(
        DEVICE_TYPES,
        string="Billed Device Type",
        help="With the 'Managed devices (prorated)' quantity formula: the device type this line bills "
        "(empty: every type).",
    )
