from odoo import fields, models


class ProjectProject(models.Model):
    _inherit = "project.project"

    psa_order_ids = fields.One2many(
        "sale.order",
        "psa_engagement_project_id",
        string="Change Orders",
        help="Orders that changed this engagement after it started.",
    )
    psa_order_count = fields.Integer(compute="_compute_psa_order_count", string="Change Order Count")

    def _compute_psa_order_count(self):
        counts = dict(
            self.env["sale.order"]._read_group(
                [("psa_engagement_project_id", "in", self.ids)],
                ["psa_engagement_project_id"],
                ["__count"],
            )
        )
        for project in self:
            project.psa_order_count = counts.get(project, 0)

    def action_psa_new_change_order(self):
        """Open a quotation prefilled as a change order of this engagement."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "sale.order",
            "view_mode": "form",
            "target": "current",
            "context": {
                "default_partner_id": self.partner_id.id,
                "default_psa_order_kind": "change_increase",
                "default_psa_engagement_project_id": self.id,
                "default_company_id": self.company_id.id or self.env.company.id,
            },
        }

    def action_psa_view_change_orders(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("sale.action_orders")
        action["domain"] = [("psa_engagement_project_id", "=", self.id)]
        action["context"] = {"default_psa_engagement_project_id": self.id, "default_partner_id": self.partner_id.id}
        return action
