from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    psa_device_ids = fields.One2many("psa.device", "partner_id", string="Managed Devices")
    psa_device_count = fields.Integer(compute="_compute_psa_device_count", string="Device Count")
    psa_email_domains = fields.Char(
        string="E-mail Domains",
        help="Comma-separated domains of this customer's staff (its own e-mail's domain counts too): an "
        "unknown sender from one of them who writes to the helpdesk becomes a contact of this customer.",
    )
    psa_portal_on_first_email = fields.Boolean(
        string="Portal Access on First E-mail",
        help="New contacts created from a first e-mail to the helpdesk get a portal user and follow their ticket.",
    )

    def _compute_psa_device_count(self):
        counts = dict(
            self.env["psa.device"]._read_group(
                [("partner_id", "in", self.ids)],
                ["partner_id"],
                ["__count"],
            )
        )
        for partner in self:
            partner.psa_device_count = counts.get(partner, 0)

    def action_psa_view_devices(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("psa_rmm.action_psa_device")
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {"default_partner_id": self.id}
        return action
