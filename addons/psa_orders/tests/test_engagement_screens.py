from odoo.tests import Form, new_test_user, tagged
from odoo.tools.safe_eval import safe_eval

from .common import PsaOrdersCommon


@tagged("post_install", "-at_install")
class TestEngagementScreens(PsaOrdersCommon):
    """What the engagement screens show a project manager: the planned time, only real engagements."""

    def test_allocated_time_follows_the_orders_of_an_existing_engagement(self):
        """Contoso's migration: the project exists before its order (chosen on the quotation), 40 h are sold,
        a scope decrease removes 4: the engagement's Allocated Time is 36 h, as its tasks plan (Odoo only
        counts the hours on a project it creates itself, so it showed 00:00)."""
        order = self._create_order(
            self.customer, [(self.service, 40, 100.0)], psa_order_kind="new_engagement", project_id=self.project.id
        )
        order.action_confirm()
        self.assertEqual(order.order_line.task_id.project_id, self.project)
        self.assertEqual(self.project.allocated_hours, 40.0)

        decrease = self._create_order(
            self.customer,
            [(self.service, -4, 100.0)],
            psa_order_kind="change_decrease",
            psa_engagement_project_id=self.project.id,
        )
        decrease.action_confirm()
        self.assertEqual(sum(self.project.task_ids.mapped("allocated_hours")), 36.0)
        self.assertEqual(self.project.allocated_hours, 36.0)
        increase = self._create_order(
            self.customer,
            [(self.service, 16, 100.0)],
            psa_order_kind="change_increase",
            psa_engagement_project_id=self.project.id,
        )
        increase.action_confirm()
        self.assertEqual(self.project.allocated_hours, 52.0)
        manager = new_test_user(
            self.env,
            login="psa_engagement_manager",
            groups="project.group_project_user,sales_team.group_sale_salesman,hr_timesheet.group_hr_timesheet_user",
        )
        with Form(self.project.with_user(manager)) as form:
            self.assertEqual(form.allocated_hours, 52.0, "the project manager reads it on the engagement's form")

    def test_engagements_list_only_customer_engagements(self):
        """The Engagements menu lists the customers' billable projects, not the project templates, the
        company's internal projects nor projects without a customer."""
        template = self.env["project.project"].create(
            {"name": "Template - rollout", "partner_id": self.customer.id, "allow_billable": True}
        )
        self.env["product.product"].create(
            {
                "name": "Rollout",
                "type": "service",
                "service_tracking": "project_only",
                "service_type": "manual",
                "project_template_id": template.id,
            }
        )
        internal = self.env["project.project"].create(
            {"name": "Our own IT", "partner_id": self.env.company.partner_id.id, "allow_billable": True}
        )
        colleague = self.env["res.partner"].create({"name": "A colleague", "parent_id": self.env.company.partner_id.id})
        internal_contact = self.env["project.project"].create(
            {"name": "Office move", "partner_id": colleague.id, "allow_billable": True}
        )
        no_customer = self.env["project.project"].create({"name": "Support desk", "allow_billable": True})
        action = self.env["ir.actions.act_window"]._for_xml_id("psa_orders.action_psa_engagements")
        shown = self.env["project.project"].with_user(self.salesman).search(safe_eval(action["domain"]))
        self.assertIn(self.project, shown)
        for project in (template, internal, internal_contact, no_customer):
            self.assertNotIn(project, shown, project.name)
