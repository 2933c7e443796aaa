from odoo import api, fields, models

from .psa_rmm_integration import INTEGRATION_KINDS

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
    ticket_count = fields.Integer(compute="_compute_ticket_count", string="Ticket Count")
    open_ticket_count = fields.Integer(compute="_compute_ticket_count", string="Open Tickets")
    rmm_source_label = fields.Char(compute="_compute_rmm_source_label", string="RMM")

    _sql_constraints = [
        (
            "rmm_device_unique",
            "UNIQUE(company_id, rmm_source, rmm_device_id)",
            "This RMM device is already registered in this company.",
        ),
    ]

    @api.depends("ticket_ids.stage_id")
    def _compute_ticket_count(self):
        opened, total = {}, {}
        for device, stage, count in self.env["helpdesk.ticket"]._read_group(
            [("psa_device_id", "in", self.ids)], ["psa_device_id", "stage_id"], ["__count"]
        ):
            total[device.id] = total.get(device.id, 0) + count
            if not stage.closed:
                opened[device.id] = opened.get(device.id, 0) + count
        for device in self:
            device.ticket_count = total.get(device.id, 0)
            device.open_ticket_count = opened.get(device.id, 0)

    @api.depends("rmm_source")
    def _compute_rmm_source_label(self):
        labels = dict(INTEGRATION_KINDS)
        for device in self:
            device.rmm_source_label = labels.get(device.rmm_source, device.rmm_source)

    def action_view_tickets(self):
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id("helpdesk_mgmt.helpdesk_ticket_action")
        action.update(
            {
                "name": self.env._("Tickets of %(device)s", device=self.name),
                "domain": [("psa_device_id", "=", self.id)],
                "context": {"default_psa_device_id": self.id, "default_partner_id": self.partner_id.id},
            }
        )
        return action

    @api.depends("name", "partner_id")
    def _compute_display_name(self):
        for device in self:
            device.display_name = f"{device.name} ({device.partner_id.name})" if device.partner_id else device.name
