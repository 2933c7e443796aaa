from odoo.tests import tagged

from .common import PsaOrdersCommon


@tagged("post_install", "-at_install")
class TestEngagementHistory(PsaOrdersCommon):
    def test_history_committed_value_and_remaining_budget(self):
        """A new engagement, a scope increase and a scope decrease: the project lists the three orders in
        order with what each did; committed value is their sum; remaining budget deducts delivered work."""
        employee = self.env["hr.employee"].create({"name": "Consultant", "user_id": self.salesman.id})
        engagement = self._create_order(self.customer, [(self.service, 40, 100.0)])
        engagement.action_confirm()
        project = engagement.order_line.project_id
        increase = self._create_order(
            self.customer,
            [(self.service, 8, 100.0)],
            psa_order_kind="change_increase",
            psa_engagement_project_id=project.id,
        )
        increase.action_confirm()
        decrease = self._create_order(
            self.customer,
            [(self.service, -6, 100.0)],
            psa_order_kind="change_decrease",
            psa_engagement_project_id=project.id,
        )
        decrease.action_confirm()
        timesheet = self.env["account.analytic.line"].create(
            {
                "name": "Migration work",
                "project_id": project.id,
                "task_id": engagement.order_line.task_id.id,
                "unit_amount": 10.0,
                "employee_id": employee.id,
            }
        )
        if hasattr(timesheet, "_psa_set_approval"):
            # With psa_timesheet_billing installed only approved time is delivered: release it.
            timesheet._psa_set_approval("approved", "released for the engagement history test")
        unrelated = self._create_order(self.customer, [(self.fixed_fee, 1, 999.0)])
        unrelated.action_confirm()

        project = project.with_user(self.salesman)
        # As when the user opens the project: a fresh read, not values cached while the orders were confirmed.
        project.invalidate_recordset()
        self.assertEqual(project.psa_history_order_ids.ids, [engagement.id, increase.id, decrease.id])
        self.assertEqual(
            project.psa_history_order_ids.mapped("psa_order_kind"),
            ["new_engagement", "change_increase", "change_decrease"],
        )
        self.assertIn("Created project", engagement.psa_effect)
        self.assertIn("Added 1 task(s), 8.0 planned hours", increase.psa_effect)
        self.assertIn("Removed 6.0 planned hours", decrease.psa_effect)
        self.assertEqual(project.psa_committed_value, 4000.0 + 800.0 - 600.0)
        self.assertEqual(project.psa_delivered_value, 1000.0)
        self.assertEqual(project.psa_remaining_budget, 3200.0)
