from datetime import date

from odoo import Command
from odoo.tests import tagged

from .billing_run_common import BillingRunCommon


@tagged("post_install", "-at_install")
class TestBillingRunPrepaidFund(BillingRunCommon):
    """Customer A bought 8 support hours for October; 11 h are logged and approved: the fund pays
    for 8, the run bills the 3 h beyond it at the order's rate, once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fund = cls.env["psa.prepaid.fund"].create(
            {
                "name": "October support block",
                "partner_id": cls.customer_a.id,
                "unit": "hours",
                "initial_quantity": 8.0,
                "date_start": date(2026, 10, 1),
                "date_end": date(2026, 10, 31),
            }
        )
        cls.order = cls._create_order(cls.customer_a, [(cls.product_time, 40, 120.0)])
        project = cls._create_project(cls.order.order_line)
        cls.covered, cls.partly = cls._log_time(
            cls.order.order_line, project, [(date(2026, 10, 7), 6.0), (date(2026, 10, 14), 5.0)]
        )

    def test_only_the_overage_is_billed(self):
        self.assertEqual(self.fund.overage_quantity, 3.0, "the approval drew the time from the fund")
        run = self._new_run(partner_ids=[Command.set(self.customer_a.ids)])
        run.action_preview()
        line = run.line_ids.filtered(lambda run_line: run_line.sale_line_id == self.order.order_line)
        self.assertAlmostEqual(line.quantity, 3.0)
        self.assertAlmostEqual(line.amount, 360.0)
        self.assertIn("2.0 h of them paid by prepaid fund October support block", line.explanation)
        run.action_confirm()
        invoice = line.move_id
        self.assertEqual(invoice.state, "posted")
        self.assertAlmostEqual(invoice.amount_untaxed, 360.0)
        self.assertEqual(self.partly.timesheet_invoice_id, invoice, "the entry that ran over is billed")
        self.assertFalse(self.covered.timesheet_invoice_id, "time the fund paid for in full is not billed")
        rerun = self._new_run(partner_ids=[Command.set(self.customer_a.ids)])
        rerun.action_preview()
        self.assertFalse(rerun.line_ids.filtered(lambda run_line: run_line.kind == "bill"), "billed once")


@tagged("post_install", "-at_install")
class TestBillingRunDownPayment(BillingRunCommon):
    """An invoiced down payment (prepayment) is deducted on the run's invoice of its order, as
    Odoo's final invoice does, once; a smaller invoice keeps it for later and says so."""

    def _down_payment(self, order, percentage):
        wizard = (
            self.env["sale.advance.payment.inv"]
            .with_context(active_model="sale.order", active_ids=order.ids, active_id=order.id)
            .create({"advance_payment_method": "percentage", "amount": percentage})
        )
        wizard.create_invoices()
        invoice = order.invoice_ids
        invoice.action_post()
        return invoice

    def _run(self, partner):
        run = self._new_run(partner_ids=[Command.set(partner.ids)])
        run.action_preview()
        return run

    def test_down_payment_is_deducted_on_the_final_invoice(self):
        order = self._create_order(self.customer_b, [(self.product_fixed, 1, 1000.0)])
        down_payment = self._down_payment(order, 30)
        run = self._run(self.customer_b)
        deduction = run.line_ids.filtered(lambda line: line.source_type == "downpayment")
        self.assertEqual(deduction.state, "pending")
        self.assertAlmostEqual(deduction.amount, -down_payment.amount_untaxed)
        self.assertIn(f"invoiced on {down_payment.name}, deducted", deduction.explanation)
        run.action_confirm()
        final = order.invoice_ids - down_payment
        self.assertEqual(len(final), 1)
        self.assertEqual(final.state, "posted")
        self.assertAlmostEqual(final.amount_untaxed, 1000.0 - down_payment.amount_untaxed)
        self.assertEqual(deduction.move_id, final)
        self.assertEqual(order.invoice_status, "invoiced")
        rerun = self._run(self.customer_b)
        self.assertFalse(rerun.line_ids.filtered(lambda line: line.kind == "bill"), "deducted once")

    def test_down_payment_larger_than_the_invoice_waits(self):
        order = self._create_order(self.customer_a, [(self.product_time, 40, 120.0)])
        self._log_time(order.order_line, self._create_project(order.order_line), [(date(2026, 10, 7), 10.0)])
        down_payment = self._down_payment(order, 50)
        run = self._run(self.customer_a)
        kept = run.line_ids.filtered(lambda line: line.source_type == "downpayment")
        self.assertEqual(kept.state, "skipped")
        self.assertIn("kept for a later invoice", kept.skip_reason)
        run.action_confirm()
        invoice = order.invoice_ids - down_payment
        self.assertAlmostEqual(invoice.amount_untaxed, 1200.0, msg="the time is billed, nothing deducted")
