from freezegun import freeze_time

from odoo.tests import Form, tagged

from .common import PsaTimesheetCommon
from .queue_job_helpers import run_auto_approval


@tagged("post_install", "-at_install")
@freeze_time("2026-11-23")
class TestAutoApprovalScope(PsaTimesheetCommon):
    """Rules scoped to a customer, and the budget of the order line sold for the time."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["psa.approval.rule"].search([]).active = False
        hour = cls.env.ref("uom.product_uom_hour")
        consulting = cls.env["product.product"].create(
            {
                "name": "Consulting hour (scope test)",
                "type": "service",
                "service_type": "timesheet",
                "invoice_policy": "delivery",
                "uom_id": hour.id,
                "uom_po_id": hour.id,
                "list_price": 120.0,
            }
        )
        order = cls.env["sale.order"].create(
            {
                "partner_id": cls.customer.id,
                "order_line": [(0, 0, {"product_id": consulting.id, "product_uom_qty": 10.0})],
            }
        )
        order.action_confirm()
        cls.order_line = order.order_line
        cls.project.write({"allow_billable": True, "sale_line_id": cls.order_line.id})
        cls.other_customer = cls.env["res.partner"].create({"name": "Unruled customer", "is_company": True})
        cls.other_project = cls.env["project.project"].create(
            {"name": "Unruled engagement", "partner_id": cls.other_customer.id, "allow_timesheets": True}
        )

    def _entry(self, hours, day="2026-11-20", name="Configured the firewall", project=None):
        return (
            self.env["account.analytic.line"]
            .with_user(self.consultant)
            .create({"project_id": (project or self.project).id, "name": name, "unit_amount": hours, "date": day})
        )

    def _rule_form(self, kind, name, partner=None):
        with Form(self.env["psa.approval.rule"].with_user(self.manager)) as form:
            form.name = name
            form.kind = kind
            if partner:
                form.partner_id = partner
        return form.record

    def test_order_line_budget_pass_and_fail(self):
        self._rule_form("budget", "Order line budget")
        first = self._entry(6.0, day="2026-11-19")
        second = self._entry(5.0)
        self.assertEqual(first.so_line, self.order_line)
        run_auto_approval(self.env, batch_size=100)
        self.assertEqual(first.psa_approval_state, "approved")
        self.assertEqual(first.psa_approval_reason, "approved automatically: passes Order line budget")
        self.assertEqual(second.psa_approval_state, "to_approve")
        self.assertEqual(
            second.psa_approval_reason,
            "Over budget: 5 h, only 4 h left on the order line (rule Order line budget)",
        )
        self.assertEqual(self.order_line.qty_delivered, 6.0, "only the approved time is delivered")

    def test_customer_scoped_rule(self):
        self._rule_form("description", "Customer needs descriptions", partner=self.customer)
        second_project = self.env["project.project"].create(
            {"name": "Second engagement", "partner_id": self.customer.id, "allow_timesheets": True}
        )
        blank = self._entry(1.0, name="", project=second_project)
        described = self._entry(1.0, project=second_project)
        unruled = self._entry(1.0, project=self.other_project)
        run_auto_approval(self.env, batch_size=100)
        self.assertIn(
            "No description: add one to have it approved (rule Customer needs descriptions)", blank.psa_approval_reason
        )
        self.assertEqual(described.psa_approval_state, "approved", "every project of the customer is covered")
        self.assertEqual(unruled.psa_approval_state, "to_approve")
        self.assertFalse(unruled.psa_approval_reason, "no rule applies to another customer: left for a person")
