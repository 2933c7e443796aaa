from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import PsaOrdersCommon


@tagged("post_install", "-at_install")
class TestFixedPriceDecrease(PsaOrdersCommon):
    """A 10,000.00 fixed-price rollout: "Design" (30%, its 6-hour task) is reached and invoiced, "Go-live"
    (70%, its 10-hour task) is open. The customer drops part of the go-live scope."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        template = cls.env["project.project"].create({"name": "Rollout template", "allow_milestones": True})
        design, golive = cls.env["project.milestone"].create(
            [
                {"name": "Design", "project_id": template.id, "psa_offset": "+14 days", "psa_price_share": 30},
                {"name": "Go-live", "project_id": template.id, "psa_offset": "+1 month", "psa_price_share": 70},
            ]
        )
        cls.env["project.task"].create(
            [
                {"name": "Survey", "project_id": template.id, "allocated_hours": 6, "milestone_id": design.id},
                {"name": "Cut-over", "project_id": template.id, "allocated_hours": 10, "milestone_id": golive.id},
            ]
        )
        cls.rollout = cls.env["product.product"].create(
            {
                "name": "Rollout (fixed price)",
                "type": "service",
                "invoice_policy": "delivery",
                "service_type": "milestones",
                "service_tracking": "project_only",
                "project_template_id": template.id,
                "list_price": 10000.0,
                "taxes_id": [(5, 0, 0)],
            }
        )
        cls.engagement = cls._create_order(cls.customer, [(cls.rollout, 1, 10000.0)], psa_start_date="2026-06-01")
        cls.engagement.action_confirm()
        cls.line = cls.engagement.order_line
        cls.project = cls.line.project_id
        cls.design = cls.project.milestone_ids.filtered(lambda milestone: milestone.name == "Design")
        cls.golive = cls.project.milestone_ids - cls.design
        cls.design.is_reached = True
        cls.invoice = cls.engagement._create_invoices()
        cls.survey = cls.project.task_ids.filtered(lambda task: task.name == "Survey")
        cls.cutover = cls.project.task_ids.filtered(lambda task: task.name == "Cut-over")

    def _decrease(self, amount):
        return self._create_order(
            self.customer_contact,
            [(self.rollout, -1, amount)],
            psa_order_kind="change_decrease",
            psa_engagement_project_id=self.project.id,
        )

    def test_decrease_reduces_open_milestones_and_their_hours(self):
        self.assertEqual(self.invoice.invoice_line_ids.price_subtotal, 3000.0, "fixture: design invoiced")
        order = self._decrease(2000.0)
        order.with_user(self.salesman).action_confirm()
        self.assertAlmostEqual(self.design.quantity_percentage, 0.3, msg="the invoiced milestone is untouched")
        self.assertAlmostEqual(self.golive.quantity_percentage, 0.5)
        self.assertEqual(self.survey.allocated_hours, 6.0)
        self.assertEqual(self.cutover.allocated_hours, 7.14)
        self.assertIn(
            f"Planned hours reduced from 10.0 to 7.14 by fixed-price decrease {order.name}.",
            "".join(self.cutover.message_ids.mapped("body")),
        )
        self.assertNotIn("Planned hours reduced", "".join(self.survey.message_ids.mapped("body")))
        self.assertFalse(order.order_line.project_id, "no project or task is created for the decrease")
        self.assertIn("took", order.psa_effect)
        self.assertRegex(order.psa_effect, r"Go-live from .*7,000\.00 to .*5,000\.00")
        self.assertIn("Go-live from", "".join(self.project.message_ids.mapped("body")))
        self.golive.is_reached = True
        project = self.project.with_user(self.salesman)
        project.invalidate_recordset()
        self.assertEqual(self.line.qty_delivered, 0.8)
        self.assertEqual(project.psa_committed_value, 8000.0)
        self.assertEqual(project.psa_remaining_budget, 0.0)

    def test_decrease_beyond_what_is_open_is_refused(self):
        order = self._decrease(7500.0)
        with self.assertRaisesRegex(UserError, r"only .*7,000\.00 is still open in milestones not reached"):
            order.with_user(self.salesman).action_confirm()
        self.assertEqual(order.state, "draft")
        self.assertAlmostEqual(self.golive.quantity_percentage, 0.7)
        self.assertEqual(self.cutover.allocated_hours, 10.0)
