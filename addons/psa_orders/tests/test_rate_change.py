from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from .common import PsaOrdersCommon


@tagged("post_install", "-at_install")
class TestRateChange(PsaOrdersCommon):
    """A 40-hour engagement at 100.00 an hour. Six hours up to 1 December are invoiced; one more hour before
    December is not; 5.5 hours from 2 December are not invoiced. The customer agrees to 150.00 an hour from
    1 December."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.employee = cls.env["hr.employee"].create({"name": "Consultant", "user_id": cls.salesman.id})
        cls.engagement = cls._create_order(cls.customer, [(cls.service, 40, 100.0)])
        cls.engagement.action_confirm()
        cls.old_line = cls.engagement.order_line
        cls.project = cls.old_line.project_id
        cls.task = cls.old_line.task_id
        invoiced = cls._log("2026-11-20", 4.0) | cls._log("2026-12-01", 2.0)
        if hasattr(invoiced, "_psa_set_approval"):
            # With psa_timesheet_billing installed only approved time is delivered: release it.
            invoiced._psa_set_approval("approved", "released for the rate change test")
        cls.invoice = cls.engagement._create_invoices()
        cls.invoiced = invoiced
        cls.before = cls._log("2026-11-25", 1.0)
        cls.after = cls._log("2026-12-02", 3.0) | cls._log("2026-12-03", 2.5)
        if hasattr(invoiced, "_psa_set_approval"):
            # Approved but not invoiced time moves too, although approval locks the entries.
            (cls.before | cls.after)._psa_set_approval("approved", "released for the rate change test")

    @classmethod
    def _log(cls, date, hours):
        return cls.env["account.analytic.line"].create(
            {
                "name": "Work",
                "date": date,
                "project_id": cls.project.id,
                "task_id": cls.task.id,
                "unit_amount": hours,
                "employee_id": cls.employee.id,
            }
        )

    def _rate_change(self, price=150.0, effective="2026-12-01", product=None, **values):
        form = Form(self.env["sale.order"].with_user(self.salesman))
        form.partner_id = self.customer_contact
        form.psa_order_kind = "rate_change"
        form.psa_engagement_project_id = self.project
        if effective:
            form.psa_effective_date = effective
        with form.order_line.new() as line:
            line.product_id = product or self.service
            line.price_unit = price
            for name, value in values.items():
                setattr(line, name, value)
        return form.save()

    def test_time_from_the_effective_date_moves_to_the_new_rate(self):
        self.assertTrue(self.invoiced.timesheet_invoice_id, "fixture: the first six hours are invoiced")
        order = self._rate_change()
        order.action_confirm()
        new_line = order.order_line
        self.assertEqual(self.after.so_line, new_line)
        self.assertEqual((self.invoiced | self.before).so_line, self.old_line)
        self.assertEqual(new_line.qty_delivered, 5.5)
        self.assertEqual(self.old_line.qty_delivered, 7.0)
        # the 33 hours still to deliver move to the new rate; the engagement is worth what it now costs
        self.assertEqual(self.old_line.product_uom_qty, 7.0)
        self.assertEqual(new_line.product_uom_qty, 33.0)
        self.assertEqual(new_line.price_unit, 150.0)
        self.assertEqual(self.task.allocated_hours, 40.0, "the scope does not change")
        project = self.project.with_user(self.salesman)
        project.invalidate_recordset()
        self.assertEqual(project.psa_committed_value, 7 * 100.0 + 33 * 150.0)
        self.assertEqual(project.psa_history_order_ids[-1], order)
        self.assertIn("Moved 2 entries, 5.5 h from", order.psa_effect)
        self.assertNotIn("Added", order.psa_effect, "the rate change creates no task")
        for record in (order, self.project):
            self.assertRegex("".join(record.message_ids.mapped("body")), r"2 entries, 5\.5 h from .* to rate .*150\.00")
        # future time is billed at the new rate, through the task and the project
        self.assertEqual(self.task.sale_line_id, new_line)
        self.assertEqual(self.project.sale_line_id, new_line)
        self.assertEqual(self._log("2026-12-10", 1.0).so_line, new_line)

    def test_named_line_of_another_engagement_is_refused(self):
        other = self._create_order(self.customer, [(self.service, 10, 100.0)])
        other.action_confirm()
        order = self._rate_change(psa_rate_source_line_id=other.order_line)
        with self.assertRaisesRegex(UserError, "has no remaining engagement"):
            order.with_user(self.salesman).action_confirm()
        self.assertEqual(order.state, "draft")
        self.assertEqual(self.after.so_line, self.old_line)
        self.assertEqual(self.old_line.product_uom_qty, 40.0)

    def test_effective_date_is_required(self):
        """The form requires it; an order created by another path is refused at confirmation."""
        with self.assertRaises(AssertionError):
            self._rate_change(effective=False)
        order = self._create_order(
            self.customer,
            [(self.service, 1, 150.0)],
            psa_order_kind="rate_change",
            psa_engagement_project_id=self.project.id,
        )
        with self.assertRaisesRegex(UserError, "set its Effective Date"):
            order.with_user(self.salesman).action_confirm()

    def test_rate_needs_a_product_billed_on_timesheets(self):
        order = self._rate_change(product=self.fixed_fee, psa_rate_source_line_id=self.old_line)
        with self.assertRaisesRegex(UserError, "is not invoiced on timesheets"):
            order.with_user(self.salesman).action_confirm()
        self.assertEqual(self.task.sale_line_id, self.old_line)
