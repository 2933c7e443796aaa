from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    psa_device_ids = fields.One2many("psa.device", "partner_id", string="Managed Devices")
    psa_device_count = fields.Integer(compute="_compute_psa_device_count", string="Device Count")

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
