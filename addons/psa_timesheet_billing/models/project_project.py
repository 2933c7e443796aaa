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

    psa_profit_margin = fields.Monetary(
        string="Margin",
        compute="_compute_psa_profitability",
        groups="account.group_account_invoice,project.group_project_manager",
        help="Delivered value minus the cost of the time spent (see Reporting > Engagement Profitability).",
    )
    psa_profit_margin_percent = fields.Float(
        string="Margin %",
        compute="_compute_psa_profitability",
        groups="account.group_account_invoice,project.group_project_manager",
    )
    psa_profit_cost = fields.Monetary(
        string="Cost of Time",
        compute="_compute_psa_profitability",
        groups="account.group_account_invoice,project.group_project_manager",
    )
    psa_profit_invoiced = fields.Monetary(
        string="Invoiced",
        compute="_compute_psa_profitability",
        groups="account.group_account_invoice,project.group_project_manager",
    )

    def _compute_psa_profitability(self):
        """One grouped read of the profitability report for all the projects at once."""
        figures = {}
        if self.ids:
            figures = {
                project: (invoiced, cost, margin, percent)
                for project, invoiced, cost, margin, percent in self.env["psa.engagement.profitability"]._read_group(
                    [("project_id", "in", self.ids)],
                    ["project_id"],
                    ["invoiced_amount:sum", "cost_amount:sum", "margin:sum", "margin_percent:avg"],
                )
            }
        for project in self:
            invoiced, cost, margin, percent = figures.get(project._origin, (0.0, 0.0, 0.0, 0.0))
            project.psa_profit_invoiced = invoiced
            project.psa_profit_cost = cost
            project.psa_profit_margin = margin
            project.psa_profit_margin_percent = percent or 0.0

    def action_psa_view_profitability(self):
        """The profitability report of this project, by month."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "psa_timesheet_billing.action_psa_engagement_profitability"
        )
        action["display_name"] = self.env._("Profitability of %(project)s", project=self.display_name)
        action["domain"] = [("project_id", "=", self.id)]
        action["context"] = {"pivot_row_groupby": ["date:month"], "graph_groupbys": ["date:month"]}
        return action

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
