from datetime import date

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import PsaOrdersCommon


@tagged("post_install", "-at_install")
class TestProjectTemplates(PsaOrdersCommon):
    """A fixed-price rollout sold from a template: two tasks with planned hours, two milestones due 14 days
    and one month after the start date, delivering 30% and 70% of the price."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.template = cls.env["project.project"].create({"name": "Rollout template", "allow_milestones": True})
        design, golive = cls.env["project.milestone"].create(
            [
                {
                    "name": "Design signed off",
                    "project_id": cls.template.id,
                    "psa_offset": "+14 days",
                    "psa_price_share": 30,
                },
                {"name": "Go-live", "project_id": cls.template.id, "psa_offset": "+1 month", "psa_price_share": 70},
            ]
        )
        cls.env["project.task"].create(
            [
                {
                    "name": "Site survey",
                    "project_id": cls.template.id,
                    "allocated_hours": 6,
                    "milestone_id": design.id,
                    "psa_offset": "+7 days",
                },
                {"name": "Cut-over", "project_id": cls.template.id, "allocated_hours": 10, "milestone_id": golive.id},
            ]
        )
        cls.rollout = cls.env["product.product"].create(
            {
                "name": "Rollout (fixed price)",
                "type": "service",
                "invoice_policy": "delivery",
                "service_type": "milestones",
                "service_tracking": "project_only",
                "project_template_id": cls.template.id,
                "list_price": 10000.0,
            }
        )

    def _check_plan(self, project, line):
        milestones = project.milestone_ids.filtered(lambda m: m.sale_line_id == line).sorted("deadline")
        self.assertEqual(milestones.mapped("name"), ["Design signed off", "Go-live"])
        self.assertEqual(milestones.mapped("deadline"), [date(2026, 6, 15), date(2026, 7, 1)])
        self.assertEqual([round(p, 2) for p in milestones.mapped("quantity_percentage")], [0.3, 0.7])
        tasks = project.task_ids.filtered(lambda t: t.name in ("Site survey", "Cut-over")).sorted("name")
        self.assertEqual(tasks.mapped("allocated_hours"), [10.0, 6.0])
        self.assertEqual(tasks[1].date_deadline.date(), date(2026, 6, 8))
        self.assertEqual(tasks[1].milestone_id.name, "Design signed off")
        self.assertEqual(tasks.sale_line_id, line)
        return milestones

    def test_new_engagement_builds_the_plan(self):
        """Confirming builds the project from the template, dated from the start date, milestones billing
        their share of the fixed price."""
        order = self._create_order(self.customer, [(self.rollout, 1, 10000.0)], psa_start_date="2026-06-01")
        order.with_user(self.salesman).action_confirm()
        line = order.order_line
        project = line.project_id
        self.assertTrue(project)
        self.assertNotEqual(project, self.template)
        milestones = self._check_plan(project, line)
        milestones[0].is_reached = True
        self.assertAlmostEqual(line.qty_delivered, 0.3)
        self.assertEqual(len(self.template.milestone_ids), 2, "the template itself is untouched")
        self.assertFalse(self.template.milestone_ids.sale_line_id)

    def test_change_order_adds_the_template_to_the_engagement(self):
        """A change order sold from the template adds its milestones and tasks to the existing project."""
        projects_before = self.env["project.project"].search_count([])
        order = self._create_order(
            self.customer,
            [(self.rollout, 1, 10000.0)],
            psa_start_date="2026-06-01",
            psa_order_kind="change_increase",
            psa_engagement_project_id=self.project.id,
        )
        order.with_user(self.salesman).action_confirm()
        self.assertEqual(self.env["project.project"].search_count([]), projects_before)
        self.assertEqual(order.order_line.project_id, self.project)
        self._check_plan(self.project, order.order_line)
        self.assertEqual(len(self.project.milestone_ids), 2, "no extra 100% milestone for the line")

    def test_offset_is_validated(self):
        with self.assertRaisesRegex(ValidationError, "is not an offset"):
            self.template.milestone_ids[:1].psa_offset = "two weeks later"
