from odoo.exceptions import ValidationError
from odoo.tests import Form, new_test_user, tagged

from .common import PsaOrdersCommon


@tagged("post_install", "-at_install")
class TestMilestoneShares(PsaOrdersCommon):
    """A fixed-price line is billed through its milestones: together they never deliver more than the line."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.project_manager = new_test_user(
            cls.env,
            login="psa_shares_pm",
            groups="sales_team.group_sale_salesman,project.group_project_manager",
        )
        cls.network = cls.env["product.product"].create(
            {
                "name": "Network refresh (fixed price)",
                "type": "service",
                "invoice_policy": "delivery",
                "service_type": "milestones",
                "service_tracking": "task_in_project",
                "list_price": 12000.0,
            }
        )

    def _confirmed_line(self):
        order = self._create_order(self.customer, [(self.network, 1, 12000.0)], project_id=self.project.id)
        order.action_confirm()
        return order.order_line

    def test_odoo_default_milestone_plus_new_shares_is_refused(self):
        """The demo's mistake: Odoo's default milestone (100%) kept, then 30% and 70% added."""
        line = self._confirmed_line()
        default = self.project.milestone_ids.filtered(lambda m: m.sale_line_id == line)
        self.assertEqual(default.mapped("quantity_percentage"), [1.0], "Odoo makes one milestone for the line")
        milestones = self.env["project.milestone"].with_user(self.project_manager)
        with self.assertRaisesRegex(ValidationError, r"would deliver 130\.0% of it .*cannot exceed 100%"):
            milestones.create(
                {
                    "name": "Site survey",
                    "project_id": self.project.id,
                    "sale_line_id": line.id,
                    "quantity_percentage": 0.3,
                }
            )

    def test_shares_edited_by_a_person(self):
        line = self._confirmed_line()
        default = self.project.milestone_ids.filtered(lambda m: m.sale_line_id == line)
        with Form(default.with_user(self.project_manager)) as form:
            form.quantity_percentage = 0.3
        survey = (
            self.env["project.milestone"]
            .with_user(self.project_manager)
            .create(
                {"name": "Cut-over", "project_id": self.project.id, "sale_line_id": line.id, "quantity_percentage": 0.7}
            )
        )
        self.assertAlmostEqual(sum((default | survey).mapped("quantity_percentage")), 1.0)
        with self.assertRaises(ValidationError), self.cr.savepoint():
            survey.with_user(self.project_manager).quantity_percentage = 0.8
        with self.assertRaises(ValidationError), self.cr.savepoint():
            survey.with_user(self.project_manager).product_uom_qty = 0.8
        # a new milestone left empty is worth the whole line in Odoo: refused too
        with self.assertRaises(ValidationError), self.cr.savepoint():
            self.env["project.milestone"].with_user(self.project_manager).create(
                {"name": "Extra", "project_id": self.project.id, "sale_line_id": line.id}
            )
        self.assertEqual(line.project_id.milestone_ids.filtered(lambda m: m.sale_line_id == line), default | survey)

    def test_planned_shares_on_the_project_before_confirming(self):
        """Milestones prepared on the project (the demo's way) take the line and their own share, in any order."""
        self.env["project.milestone"].create(
            [
                {"name": "Cut-over", "project_id": self.project.id, "psa_price_share": 70},
                {"name": "Site survey", "project_id": self.project.id, "psa_price_share": 30},
            ]
        )
        line = self._confirmed_line()
        milestones = self.project.milestone_ids.filtered(lambda m: m.sale_line_id == line).sorted("name")
        self.assertEqual([round(m.quantity_percentage, 2) for m in milestones], [0.7, 0.3])
