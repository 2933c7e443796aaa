from odoo import api, fields, models
from odoo.osv import expression


class ProjectProject(models.Model):
    _inherit = "project.project"

    psa_order_ids = fields.One2many(
        "sale.order",
        "psa_engagement_project_id",
        string="Change Orders",
        help="Orders that changed this engagement after it started.",
    )
    psa_order_count = fields.Integer(compute="_compute_psa_order_count", string="Change Order Count")

    psa_is_engagement = fields.Boolean(
        compute="_compute_psa_is_engagement",
        search="_search_psa_is_engagement",
        string="Is an Engagement",
        help="A customer's billable project: not a project template, nor an internal or helpdesk project.",
    )

    psa_history_order_ids = fields.Many2many(
        "sale.order",
        compute="_compute_psa_engagement_value",
        string="Engagement History",
        help="Every confirmed order that built or changed this engagement, oldest first.",
    )
    psa_committed_value = fields.Monetary(
        compute="_compute_psa_engagement_value",
        string="Committed Value",
        help="Sum of the untaxed amounts of the confirmed orders of this engagement.",
    )
    psa_delivered_value = fields.Monetary(
        compute="_compute_psa_engagement_value",
        string="Delivered Value",
        help="Value of the work delivered so far on those orders: delivered quantities at the order price.",
    )
    psa_remaining_budget = fields.Monetary(
        compute="_compute_psa_engagement_value",
        string="Remaining Budget",
        help="Committed value minus delivered value.",
    )

    @api.model
    def _psa_get_engagement_domain(self):
        """Hook for extensions: the projects the Engagements menu lists, a customer's billable projects
        that are no project template (a product's) and not the company's own (its partner or its contacts)."""
        # As superuser: which products use a template and which partners are the companies' own are read to
        # filter the list only; nothing of them is shown
        templates = (
            self.env["product.template"]
            .sudo()
            .with_context(active_test=False)
            .search([("project_template_id", "!=", False)])
            .project_template_id
        )
        own_partners = self.env["res.company"].sudo().search([]).partner_id
        return [
            ("partner_id", "!=", False),
            ("allow_billable", "=", True),
            ("id", "not in", templates.ids),
            ("partner_id.commercial_partner_id", "not in", own_partners.ids),
        ]

    def _compute_psa_is_engagement(self):
        engagements = self.filtered_domain(self._psa_get_engagement_domain())
        for project in self:
            project.psa_is_engagement = project in engagements

    def _search_psa_is_engagement(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise NotImplementedError(self.env._("Unsupported search on Is an Engagement."))
        domain = self._psa_get_engagement_domain()
        return domain if (operator == "=") == value else ["!", *expression.normalize_domain(domain)]

    @api.model
    def _get_psa_engagement_orders_domain(self, projects):
        """Hook for extensions: the orders that built or changed the given engagements."""
        return [
            ("state", "=", "sale"),
            "|",
            "|",
            ("psa_engagement_project_id", "in", projects.ids),
            ("project_id", "in", projects.ids),
            ("order_line.project_id", "in", projects.ids),
        ]

    def _psa_order_projects(self, order):
        """The engagements of ``self`` an order belongs to."""
        return (order.psa_engagement_project_id | order.project_id | order.order_line.project_id) & self

    def _compute_psa_engagement_value(self):
        projects = self.filtered("id")
        orders = self.env["sale.order"]
        if projects:
            orders = (
                self.env["sale.order"]
                .sudo()
                .search(self._get_psa_engagement_orders_domain(projects), order="date_order, id")
            )
        history = {project: [] for project in self}
        today = fields.Date.context_today(self)
        for order in orders:
            company = order.company_id
            committed = order.currency_id._convert(order.amount_untaxed, company.currency_id, company, today)
            delivered = order.currency_id._convert(
                sum(line.qty_delivered * line.price_reduce_taxexcl for line in order.order_line),
                company.currency_id,
                company,
                today,
            )
            for project in projects._psa_order_projects(order):
                history[project].append((order.id, committed, delivered))
        for project in self:
            rows = history[project]
            project.psa_history_order_ids = [row[0] for row in rows]
            project.psa_committed_value = sum(row[1] for row in rows)
            project.psa_delivered_value = sum(row[2] for row in rows)
            project.psa_remaining_budget = project.psa_committed_value - project.psa_delivered_value

    def _psa_engagement_sale_lines(self):
        """Hook for extensions: the confirmed order lines the time of these engagements is billed on (the
        project's line, its employee mappings, its tasks' lines and the lines that built it)."""
        projects = self.sudo()
        tasks = (
            self.env["project.task"]
            .sudo()
            .with_context(active_test=False)
            .search([("project_id", "in", projects.ids), ("sale_line_id", "!=", False)])
        )
        lines = projects.sale_line_id | projects.sale_line_employee_ids.sale_line_id | tasks.sale_line_id
        lines |= self.env["sale.order.line"].sudo().search([("project_id", "in", projects.ids), ("state", "=", "sale")])
        return lines.filtered(lambda line: line.state == "sale")

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
