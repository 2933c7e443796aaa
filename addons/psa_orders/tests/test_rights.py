from odoo.exceptions import AccessError
from odoo.tests import Form, new_test_user, tagged

from .common import PsaOrdersCommon


@tagged("post_install", "-at_install")
class TestRights(PsaOrdersCommon):
    """Who may do what: a project manager with only the lowest sales rights (own documents) raises change
    orders on their project and confirms those a salesperson drafted on it; only sales managers change a
    customer's PO policy."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.project_manager = new_test_user(
            cls.env,
            login="psa_project_manager",
            groups="sales_team.group_sale_salesman,project.group_project_manager",
        )
        cls.project.user_id = cls.project_manager
        cls.other_project = cls.env["project.project"].create(
            {"name": "Customer One - Other engagement", "partner_id": cls.customer.id, "allow_billable": True}
        )

    def _drafted_by_salesman(self, project):
        return self._create_order(
            self.customer,
            [(self.service, 4, 100.0)],
            psa_order_kind="change_increase",
            psa_engagement_project_id=project.id,
        )

    def test_project_manager_raises_a_change_order_from_the_project(self):
        self.assertFalse(self.project_manager.has_group("sales_team.group_sale_manager"))
        action = self.project.with_user(self.project_manager).action_psa_new_change_order()
        form = Form(self.env["sale.order"].with_user(self.project_manager).with_context(**action["context"]))
        with form.order_line.new() as line:
            line.product_id = self.service
            line.product_uom_qty = 6
        order = form.save()
        self.assertEqual(order.psa_engagement_project_id, self.project)
        order.action_confirm()
        self.assertEqual(order.order_line.task_id.project_id, self.project)
        self.assertEqual(order.order_line.task_id.allocated_hours, 6.0)

    def test_project_manager_confirms_a_change_order_drafted_on_their_project(self):
        """Own-documents sales rights alone would hide the salesperson's draft from the project manager."""
        order = self._drafted_by_salesman(self.project)
        self.assertEqual(order.user_id, self.salesman)
        project = self.project.with_user(self.project_manager)
        self.assertEqual(project.psa_order_count, 1)
        listed = (
            self.env["sale.order"]
            .with_user(self.project_manager)
            .search(project.action_psa_view_change_orders()["domain"])
        )
        self.assertEqual(listed, order)
        listed.action_confirm()
        self.assertEqual(order.state, "sale")
        self.assertEqual(order.order_line.task_id.project_id, self.project)

    def test_project_manager_does_not_reach_other_projects(self):
        order = self._drafted_by_salesman(self.other_project)
        with self.assertRaises(AccessError):
            order.with_user(self.project_manager).action_confirm()
        self.assertEqual(order.state, "draft")

    def test_only_managers_change_the_po_policy(self):
        for user in (self.salesman, self.project_manager):
            with self.assertRaises(AccessError):
                self.customer.with_user(user).write({"psa_po_policy": "always"})
        self.customer.with_user(self.sales_manager).write({"psa_po_policy": "always"})
        self.assertEqual(self.customer.psa_po_policy, "always")
