from odoo import api, fields, models

DEVICE_TYPES = [
    ("workstation", "Workstation"),
    ("server", "Server"),
    ("network", "Network device"),
    ("mobile", "Mobile device"),
    ("other", "Other"),
]


class PsaDevice(models.Model):
    """A customer device managed through an RMM: the register that device-based billing counts."""

    _name = "psa.device"
    _description = "Managed Device"
    _inherit = ["mail.thread"]
    _order = "partner_id, name"
    _check_company_auto = True

    name = fields.Char(required=True, tracking=True)
    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        index=True,
        tracking=True,
        check_company=True,
        domain="[('is_company', '=', True)]",
    )
    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)
    device_type = fields.Selection(DEVICE_TYPES, required=True, default="workstation", tracking=True)
    rmm_source = fields.Char(
        string="RMM",
        help="The RMM the device is known to, e.g. 'ninjaone' or 'tacticalrmm'.",
    )
    rmm_device_id = fields.Char(string="RMM Device ID", index=True, copy=False)
    first_seen = fields.Datetime(default=fields.Datetime.now)
    last_seen = fields.Datetime(default=fields.Datetime.now, tracking=True)
    active = fields.Boolean(default=True, tracking=True)
    removed_at = fields.Datetime(
        help="When the RMM reported the device removed; it stops counting for billing after that day."
    )
    ticket_ids = fields.One2many("helpdesk.ticket", "psa_device_id", string="Tickets")

    _sql_constraints = [
        (
            "rmm_device_unique",
            "UNIQUE(company_id, rmm_source, rmm_device_id)",
            "This RMM device is already registered in this company.",
        ),
    ]

    @api.depends("name", "partner_id")
    def _compute_display_name(self):
        for device in self:
            device.display_name = f"{device.name} ({device.partner_id.name})" if device.partner_id else device.name
