from freezegun import freeze_time

from odoo.tests import new_test_user, tagged

from .common import PsaTimesheetCommon


@tagged("post_install", "-at_install")
class TestMilestoneRelease(PsaTimesheetCommon):
    """A fixed-price milestone set to release automatically becomes invoiceable on its day."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.project_manager = new_test_user(
            cls.env, login="psa_pm", groups="project.group_project_manager,sales_team.group_sale_salesman"
        )
        cls.product = cls.env["product.product"].create(
            {
                "name": "Network refresh (milestones)",
                "type": "service",
                "service_type": "milestones",
                "invoice_policy": "delivery",
                "list_price": 10000.0,
            }
        )
        cls.order = cls.env["sale.order"].create(
            {"partner_id": cls.customer.id, "order_line": [(0, 0, {"product_id": cls.product.id})]}
        )
        cls.order.action_confirm()
        cls.order_line = cls.order.order_line
        cls.project.write({"allow_billable": True, "allow_milestones": True, "sale_line_id": cls.order_line.id})
        milestone_model = cls.env["project.milestone"].with_user(cls.project_manager)
        cls.design = milestone_model.create(
            {
                "name": "Design signed off",
                "project_id": cls.project.id,
                "deadline": "2026-11-20",
                "sale_line_id": cls.order_line.id,
                "quantity_percentage": 0.4,
                "psa_auto_release": True,
            }
        )
        cls.rollout = milestone_model.create(
            {
                "name": "Rollout",
                "project_id": cls.project.id,
                "deadline": "2026-12-15",
                "sale_line_id": cls.order_line.id,
                "quantity_percentage": 0.6,
                "psa_auto_release": True,
                "psa_release_condition": "tasks_done",
            }
        )
        cls.manual = milestone_model.create(
            {"name": "Ticked by hand", "project_id": cls.project.id, "deadline": "2026-11-01"}
        )

    def _run_cron(self):
        return self.env["project.milestone"]._cron_release_milestones(batch_size=1)

    def test_released_on_its_planned_day_not_before(self):
        with freeze_time("2026-11-19"):
            self._run_cron()
        self.assertFalse(self.design.is_reached)
        self.assertEqual(self.order_line.qty_delivered, 0.0)
        with freeze_time("2026-11-20"):
            self._run_cron()
        self.assertTrue(self.design.is_reached)
        self.assertEqual(self.design.psa_release_reason, "reached automatically on 11/20/2026: planned for 11/20/2026")
        self.assertAlmostEqual(self.order_line.qty_delivered, 0.4)
        self.assertAlmostEqual(self.order_line.qty_to_invoice, 0.4)
        self.assertFalse(self.manual.is_reached, "a milestone not set to release automatically waits for a person")
        self.assertIn("Design signed off", self.project.message_ids[0].body)
        self.assertIn("Design signed off", self.order.message_ids[0].body)
        # a rerun the same day changes nothing and notes nothing twice
        notes = len(self.project.message_ids)
        with freeze_time("2026-11-20"):
            self.assertFalse(self._run_cron())
        self.assertEqual(len(self.project.message_ids), notes)

    def test_released_when_all_its_tasks_are_done(self):
        tasks = self.env["project.task"].create(
            [
                {"name": "Switches", "project_id": self.project.id, "milestone_id": self.rollout.id},
                {"name": "Access points", "project_id": self.project.id, "milestone_id": self.rollout.id},
            ]
        )
        with freeze_time("2026-11-25"):
            tasks[0].state = "1_done"
            self._run_cron()
            self.assertFalse(self.rollout.is_reached)
            tasks[1].state = "1_canceled"
            self._run_cron()
        self.assertTrue(self.rollout.is_reached)
        self.assertIn("all its tasks are done", self.rollout.psa_release_reason)
        self.assertAlmostEqual(self.order_line.qty_delivered, 1.0)
