from datetime import date

from odoo import Command, fields
from odoo.tests import Form, tagged

from .billing_run_common import BillingRunCommon


@tagged("post_install", "-at_install")
class TestBillingRunZeroTotal(BillingRunCommon):
    """Customer A's order includes a free onboarding (0.00, billed on order): alone it would make an
    invoice of 0.00, which the automation never posts nor sends."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.order = cls._create_order(cls.customer_a, [(cls.product_fixed, 1, 0.0)])
        cls.free_line = cls.order.order_line

    def _confirm(self):
        run = self._new_run(partner_ids=[Command.set(self.customer_a.ids)], mode="automatic", send_invoices=True)
        run.action_confirm()
        return run

    def test_zero_invoice_is_kept_for_the_next_invoice_with_something_to_pay(self):
        run = self._confirm()
        self.assertFalse(run.invoice_ids, "no invoice of 0.00 is posted or sent")
        line = run.line_ids.filtered(lambda run_line: run_line.sale_line_id == self.free_line)
        self.assertEqual(line.state, "skipped")
        self.assertIn("kept for the next invoice with something to pay", line.skip_reason)
        self.order.order_line = [Command.create({"product_id": self.product_fixed.id, "price_unit": 300.0})]
        later = self._confirm()
        self.assertEqual(len(later.invoice_ids), 1)
        self.assertEqual(later.invoice_ids.state, "posted")
        self.assertEqual(later.invoice_ids.invoice_line_ids.sale_line_ids, self.order.order_line)
        self.assertAlmostEqual(later.invoice_ids.amount_untaxed, 300.0)

    def test_zero_lines_skipped_per_company_setting(self):
        self.env.company.psa_billing_zero_total = "skip"
        self.order.order_line = [Command.create({"product_id": self.product_fixed.id, "price_unit": 300.0})]
        run = self._confirm()
        self.assertEqual(run.invoice_ids.invoice_line_ids.sale_line_ids, self.order.order_line - self.free_line)
        line = run.line_ids.filtered(lambda run_line: run_line.sale_line_id == self.free_line)
        self.assertEqual(line.state, "skipped")
        self.assertIn("0.00: nothing to pay", line.skip_reason)


@tagged("post_install", "-at_install")
class TestBillingRunStalePreview(BillingRunCommon):
    """Customer A bills approved time and an onboarding fee; between the preview and the confirm more
    time is approved and the fee is invoiced from the order: the run says its preview is out of date
    and the confirm says on each run line what changed."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.order = cls._create_order(cls.customer_a, [(cls.product_time, 40, 100.0), (cls.product_fixed, 1, 500.0)])
        cls.time_line, cls.fee_line = cls.order.order_line
        project = cls._create_project(cls.time_line)
        cls._log_time(cls.time_line, project, [(date(2026, 10, 5), 2.0)])
        cls.waiting = cls._log_time(cls.time_line, project, [(date(2026, 10, 6), 3.0)], approve=False)

    def test_stale_preview_is_said_and_the_confirm_reports_each_difference(self):
        run = self._new_run(partner_ids=[Command.set(self.customer_a.ids)])
        run.action_preview()
        run.action_check_preview()
        self.assertEqual(run.preview_stale_count, 0)
        self.assertIn("no change since the preview", run.preview_stale_message)
        self.waiting.with_user(self.ts_manager).action_psa_approve()
        self.assertEqual(run.preview_stale_count, 0, "nothing computed until someone checks")
        run.with_user(self.clerk).action_check_preview()
        self.assertEqual(run.preview_stale_count, 1)
        self.assertIn("preview out of date: 1 sources changed since", run.preview_stale_message)
        # the fee is invoiced from the order, outside the run
        fee_only = self.order._create_invoices()
        fee_only.invoice_line_ids.filtered(lambda line: line.sale_line_ids == self.time_line).unlink()
        run.with_user(self.clerk).action_check_preview()
        self.assertEqual(run.preview_stale_count, 2)
        run.action_confirm()
        time_run_line = run.line_ids.filtered(lambda line: line.sale_line_id == self.time_line and line.kind == "bill")
        fee_run_line = run.line_ids.filtered(lambda line: line.sale_line_id == self.fee_line and line.kind == "bill")
        self.assertEqual(time_run_line.state, "invoiced")
        self.assertIn("quantity 2.0 -> 5.0", time_run_line.preview_difference)
        self.assertAlmostEqual(run.invoice_ids.amount_untaxed, 500.0)
        self.assertEqual(fee_run_line.state, "skipped")
        self.assertIn("billed in the preview, not billable now", fee_run_line.preview_difference)

    def test_hourly_cron_says_a_preview_is_stale_without_a_click(self):
        run = self._new_run(partner_ids=[Command.set(self.customer_a.ids)])
        run.action_preview()
        self.waiting.with_user(self.ts_manager).action_psa_approve()
        self.assertIn(run, self.env["psa.billing.run"]._cron_check_previews())
        self.assertEqual(run.preview_stale_count, 1)
        self.assertIn("preview out of date: 1 sources changed since", run.preview_stale_message)
        # checked less than an hour ago: the next call leaves it alone
        self.assertNotIn(run, self.env["psa.billing.run"]._cron_check_previews())
        run.preview_checked_date = fields.Datetime.subtract(fields.Datetime.now(), hours=2)
        self.assertIn(run, self.env["psa.billing.run"]._cron_check_previews())


@tagged("post_install", "-at_install")
class TestBillingRunPreviewFormCost(BillingRunCommon):
    """Customer A has 20 orders of 10 fixed fees: its previewed run has 200 lines. Opening the run's
    form costs a few queries whatever the number of lines: it never computes the preview again."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for order_index in range(20):
            cls._create_order(
                cls.customer_a, [(cls.product_fixed, 1, 10.0 + order_index + index) for index in range(10)]
            )

    def _open_form_queries(self, run):
        """Queries of opening ``run``'s form as the clerk, its view already loaded once."""
        Form(run.with_user(self.clerk))
        self.env.invalidate_all()
        before = self.env.cr.sql_log_count
        Form(run.with_user(self.clerk))
        return self.env.cr.sql_log_count - before

    def test_opening_a_previewed_run_of_200_lines_is_cheap(self):
        run = self._new_run(partner_ids=[Command.set(self.customer_a.ids)])
        run.action_preview()
        self.assertEqual(len(run.line_ids.filtered(lambda line: line.kind == "bill")), 200)
        queries = self._open_form_queries(run)
        # 29 queries when the form computed the preview again to tell whether it is stale, 11 now
        self.assertLessEqual(queries, 15, "opening the form computes nothing of the preview")
