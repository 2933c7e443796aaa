from odoo.exceptions import UserError
from odoo.tests import new_test_user, tagged

from .common import PsaOrdersCommon


@tagged("post_install", "-at_install")
class TestChangeOrders(PsaOrdersCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.project_product = cls.env["product.product"].create(
            {
                "name": "Design workshop",
                "type": "service",
                "invoice_policy": "order",
                "service_type": "manual",
                "service_tracking": "project_only",
                "list_price": 500.0,
            }
        )
        cls.employee = cls.env["hr.employee"].create({"name": "Consultant", "user_id": cls.salesman.id})

    def _change_order(self, kind, lines, project=None):
        return self._create_order(
            self.customer_contact,
            lines,
            psa_order_kind=kind,
            psa_engagement_project_id=(project or self.project).id,
        )

    def _engagement(self, hours):
        """A confirmed new engagement of ``hours`` consulting hours; returns its project."""
        order = self._create_order(self.customer, [(self.service, hours, 100.0)])
        order.action_confirm()
        return order.order_line.project_id

    def test_new_engagement_creates_its_project(self):
        """Odoo's behaviour is kept for a new engagement: a project of its own with the task."""
        order = self._create_order(self.customer, [(self.service, 10, 100.0)])
        order.action_confirm()
        project = order.order_line.project_id
        self.assertTrue(project)
        self.assertNotEqual(project, self.project)
        self.assertEqual(order.order_line.task_id.project_id, project)

    def test_new_engagement_on_a_chosen_project(self):
        """A new engagement whose project was chosen on the quotation puts its tasks there."""
        order = self._create_order(self.customer, [(self.service, 10, 100.0)], project_id=self.project.id)
        order.action_confirm()
        self.assertEqual(order.order_line.project_id, self.project)
        self.assertEqual(order.order_line.task_id.project_id, self.project)

    def test_chosen_project_accepts_the_time_the_order_sells(self):
        """A new engagement selling hours on a chosen project whose timesheets are off turns them on (as Odoo
        does on the project it creates): the consultant logs time on the task, the project says why."""
        project = self.env["project.project"].create(
            {
                "name": "Customer One - Advisory",
                "partner_id": self.customer.id,
                "allow_billable": True,
                "allow_timesheets": False,
            }
        )
        order = self._create_order(self.customer, [(self.service, 10, 100.0)], project_id=project.id)
        order.with_user(self.salesman).action_confirm()
        self.assertTrue(project.allow_timesheets)
        self.assertIn("Timesheets turned on", project.message_ids[:1].body)
        consultant = new_test_user(self.env, login="psa_consultant", groups="hr_timesheet.group_hr_timesheet_user")
        self.env["hr.employee"].create({"name": "Consultant Two", "user_id": consultant.id})
        timesheet = (
            self.env["account.analytic.line"]
            .with_user(consultant)
            .create(
                {
                    "name": "Kick-off",
                    "project_id": project.id,
                    "task_id": order.order_line.task_id.id,
                    "unit_amount": 2.0,
                }
            )
        )
        self.assertEqual(timesheet.so_line, order.order_line)

    def test_change_order_lands_on_the_engagement(self):
        """A scope increase adds its task and hours to the existing project; no project is created."""
        projects_before = self.env["project.project"].search_count([])
        order = self._change_order("change_increase", [(self.service, 8, 100.0), (self.project_product, 1, 500.0)])
        order.with_user(self.salesman).action_confirm()
        self.assertEqual(self.env["project.project"].search_count([]), projects_before)
        self.assertEqual(order.order_line.project_id, self.project)
        self.assertEqual(order.project_id, self.project)
        task = order.order_line.task_id
        self.assertEqual(task.project_id, self.project)
        self.assertEqual(task.allocated_hours, 8.0)
        self.assertIn(task, self.project.task_ids)

    def test_scope_decrease_reduces_remaining_planned_hours(self):
        """A decrease shortens the open task but never below the hours already spent on it."""
        project = self._engagement(40)
        task = project.task_ids
        self.env["account.analytic.line"].create(
            {
                "name": "Work",
                "project_id": project.id,
                "task_id": task.id,
                "unit_amount": 30.0,
                "employee_id": self.employee.id,
            }
        )
        order = self._change_order("change_decrease", [(self.service, -6, 100.0)], project=project)
        order.with_user(self.salesman).action_confirm()
        self.assertEqual(task.allocated_hours, 34.0)
        self.assertFalse(order.order_line.task_id)
        self.assertIn(
            f"Planned hours reduced from 40.0 to 34.0 by scope decrease {order.name}.",
            "".join(task.message_ids.mapped("body")),
        )

        too_much = self._change_order("change_decrease", [(self.service, -5, 100.0)], project=project)
        projects_before = self.env["project.project"].search_count([])
        with self.assertRaisesRegex(UserError, "only 4.0 planned hours are not spent"):
            too_much.with_user(self.salesman).action_confirm()
        self.assertEqual(too_much.state, "draft")
        self.assertEqual(task.allocated_hours, 34.0)
        self.assertEqual(self.env["project.project"].search_count([]), projects_before)

    def test_refused_change_order_leaves_nothing(self):
        """A change order with an increase and an impossible decrease is refused as a whole: no task."""
        project = self._engagement(5)
        order = self._change_order(
            "change_decrease", [(self.project_product, 1, 500.0), (self.service, -10, 100.0)], project=project
        )
        tasks_before = self.env["project.task"].search_count([])
        with self.assertRaises(UserError):
            order.with_user(self.salesman).action_confirm()
        self.assertEqual(self.env["project.task"].search_count([]), tasks_before)
        self.assertFalse(order.order_line.project_id)
