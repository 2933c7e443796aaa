from odoo import fields, models


class ProjectProject(models.Model):
    _inherit = "project.project"

    psa_prepaid_remaining = fields.Float(
        string="Prepaid Balance",
        compute="_compute_psa_prepaid_remaining",
        help="Remaining on the customer's open funds this project draws on.",
    )

    psa_prepaid_display = fields.Char(
        string="Prepaid Left", compute="_compute_psa_prepaid_remaining", help="What is left, with its unit."
    )

    def _compute_psa_prepaid_remaining(self):
        if not self.env["psa.prepaid.fund"].has_access("read"):
            self.psa_prepaid_remaining = 0.0
            self.psa_prepaid_display = False
            return
        funds = self.env["psa.prepaid.fund"].search(
            [("partner_id", "in", self.partner_id.commercial_partner_id.ids), ("state", "=", "open")]
        )
        for project in self:
            mine = funds.filtered(
                lambda f, p=project: f.partner_id == p.partner_id.commercial_partner_id
                and f.project_id in (p, self.env["project.project"])
            )
            project.psa_prepaid_remaining = sum(mine.mapped("remaining_quantity"))
            project.psa_prepaid_display = mine._psa_remaining_display()
