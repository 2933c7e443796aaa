from datetime import date, datetime

from freezegun import freeze_time

from odoo import Command
from odoo.tests import tagged

from .billing_run_common import BillingRunCommon

OCTOBER_TIME = [(date(2026, 10, 5), 4.0), (date(2026, 10, 6), 6.0)]  # 10 h at 120 = 1,200


@tagged("post_install", "-at_install")
class TestBillingRunPurchaseOrders(BillingRunCommon):
    """Customer A requires a PO; customer B has none of these rules and is always billed.

    What posting would refuse for a PO reason (psa_orders) is skipped by the preview with
    psa_orders' own sentence, and the rest of the run goes on."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.order_b = cls._create_order(cls.customer_b, [(cls.product_fixed, 1, 500.0)])

    def _time_order(self, po=None, partner=None):
        order = self._create_order(partner or self.customer_a, [(self.product_time, 40, 120.0)], po=po)
        self._log_time(order.order_line, self._create_project(order.order_line), OCTOBER_TIME)
        return order

    def _register_po(self, name, cap=0.0, expiry=None):
        return self.env["psa.customer.po"].create(
            {"name": name, "partner_id": self.customer_a.id, "amount_cap": cap, "date_expiry": expiry}
        )

    def _run(self, **values):
        run = self._new_run(partner_ids=[Command.set((self.customer_a | self.customer_b).ids)], **values)
        run.action_preview()
        return run

    def _lines(self, run, order):
        return run.line_ids.filtered(lambda line: line.order_id == order)

    def _assert_skipped_then_nothing_billed(self, run, order, *fragments):
        lines = self._lines(run, order)
        self.assertEqual(set(lines.mapped("state")), {"skipped"})
        for fragment in fragments:
            self.assertIn(fragment, lines.skip_reason)
        run.action_confirm()
        self.assertFalse(order.order_line.invoice_lines, "posting would refuse it: the run does not bill it")
        self.assertEqual(self.order_b.invoice_status, "invoiced", "the other customer is billed")
        self.assertEqual(run.state, "done", "a skipped customer is no failure")

    def test_po_missing_is_skipped_with_the_rule(self):
        order = self._time_order()
        self.customer_a.psa_po_policy = "always"  # set after the order: it was placed before the rule
        run = self._run()
        self._assert_skipped_then_nothing_billed(run, order, order.name, "rule: PO always required")

    def test_po_required_above_an_amount(self):
        order = self._time_order()
        self.customer_a.write({"psa_po_policy": "above", "psa_po_threshold": 1000.0})
        run = self._run()
        self._assert_skipped_then_nothing_billed(run, order, "rule: PO required above an amount")

    def test_po_expired_before_the_invoice_date_is_skipped(self):
        order = self._time_order(po="PO-EXP-1")
        self._register_po("PO-EXP-1", expiry=date(2026, 10, 25))
        run = self._run()
        self._assert_skipped_then_nothing_billed(run, order, "PO-EXP-1", "rule: PO expiry date")

    def test_po_cap_exceeded_is_skipped(self):
        order = self._time_order(po="PO-CAP-1")
        self._register_po("PO-CAP-1", cap=1000.0)
        run = self._run()
        self._assert_skipped_then_nothing_billed(run, order, "PO-CAP-1", "rule: PO value cap")

    def test_invoices_of_one_run_count_against_the_cap_together(self):
        first = self._time_order(po="PO-CAP-2")
        second = self._time_order(po="PO-CAP-2")
        self._register_po("PO-CAP-2", cap=2000.0)
        run = self._run(grouping="order")
        self.assertEqual(self._lines(run, first).state, "pending")
        self.assertEqual(self._lines(run, second).state, "skipped")
        self.assertIn("rule: PO value cap", self._lines(run, second).skip_reason)
        run.action_confirm()
        self.assertEqual(first.order_line.invoice_lines.move_id.state, "posted")
        self.assertFalse(second.order_line.invoice_lines)

    def test_valid_po_is_billed_and_posted(self):
        order = self._time_order(po="PO-OK-1")
        self._register_po("PO-OK-1", cap=5000.0, expiry=date(2026, 12, 31))
        self.customer_a.psa_po_policy = "always"
        run = self._run()
        self.assertEqual(self._lines(run, order).state, "pending")
        run.action_confirm()
        invoice = order.order_line.invoice_lines.move_id
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(invoice.ref, "PO-OK-1")
        self.assertAlmostEqual(invoice.amount_untaxed, 1200.0)


@tagged("post_install", "-at_install")
class TestBillingRunPeriodEnd(BillingRunCommon):
    """A run up to 31 October bills nothing reached or ordered after that day; November's run does."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.product_milestone = cls.env["product.product"].create(
            {
                "name": "Run milestone rollout",
                "type": "service",
                "invoice_policy": "delivery",
                "service_type": "milestones",
                "list_price": 10000.0,
            }
        )
        cls.order = cls._create_order(cls.customer_a, [(cls.product_milestone, 1, 10000.0)])
        project = cls._create_project(cls.order.order_line)
        cls.design, cls.build = cls.env["project.milestone"].create(
            [
                {
                    "name": "Design",
                    "project_id": project.id,
                    "sale_line_id": cls.order.order_line.id,
                    "quantity_percentage": 0.3,
                },
                {
                    "name": "Build",
                    "project_id": project.id,
                    "sale_line_id": cls.order.order_line.id,
                    "quantity_percentage": 0.7,
                },
            ]
        )

    def _run(self, period_end, invoice_date):
        run = self._new_run(
            partner_ids=[Command.set(self.customer_a.ids)], period_end=period_end, invoice_date=invoice_date
        )
        run.action_preview()
        return run

    def test_milestone_reached_after_the_period_end_waits_for_the_next_run(self):
        with freeze_time("2026-10-20"):
            self.design.is_reached = True
            self.design.flush_recordset()
        with freeze_time("2026-11-10"):
            self.build.is_reached = True
            self.build.flush_recordset()
        october = self._run(self.PERIOD_END, self.INVOICE_DATE)
        october.action_confirm()
        invoice_line = self.order.order_line.invoice_lines
        self.assertAlmostEqual(invoice_line.price_subtotal, 3000.0, msg="only Design, reached in October")
        self.assertIn("Design", invoice_line.psa_billing_explanation)
        self.assertNotIn("Build", invoice_line.psa_billing_explanation)

        rerun = self._run(self.PERIOD_END, self.INVOICE_DATE)
        waiting = rerun.line_ids.filtered(lambda line: line.order_id == self.order)
        self.assertEqual(waiting.state, "skipped")
        self.assertIn("Build (2026-11-10) reached after the period end", waiting.skip_reason)

        november = self._run(date(2026, 11, 30), date(2026, 12, 1))
        november.action_confirm()
        self.assertAlmostEqual(sum(self.order.order_line.invoice_lines.mapped("price_subtotal")), 10000.0)
        self.assertIn("Build", november.line_ids.move_id.invoice_line_ids.psa_billing_explanation)

    def test_order_confirmed_after_the_period_end_is_not_billed(self):
        late = self._create_order(self.customer_a, [(self.product_fixed, 1, 500.0)])
        late.date_order = datetime(2026, 11, 4, 10, 0)
        october = self._run(self.PERIOD_END, self.INVOICE_DATE)
        self.assertFalse(october.line_ids.filtered(lambda line: line.order_id == late))
        november = self._run(date(2026, 11, 30), date(2026, 12, 1))
        self.assertAlmostEqual(november.line_ids.filtered(lambda line: line.order_id == late).amount, 500.0)


@tagged("post_install", "-at_install")
class TestBillingRunWeeklyCron(BillingRunCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.order = cls._create_order(cls.customer_a, [(cls.product_time, 20, 100.0)])
        project = cls._create_project(cls.order.order_line)
        cls.time = cls._log_time(cls.order.order_line, project, [(date(2026, 11, 4), 2.0), (date(2026, 11, 10), 3.0)])

    @freeze_time("2026-11-09 03:00:00")
    def test_weekly_cron_bills_up_to_last_sunday_once(self):
        self.env["res.config.settings"].create(
            {"psa_billing_run_frequency": "weekly", "psa_billing_run_mode": "automatic"}
        ).execute()
        self.assertEqual(self.env.company.psa_billing_run_frequency, "weekly")
        runs_model = self.env["psa.billing.run"]
        runs_model._cron_create_monthly_runs()
        domain = [("company_id", "=", self.env.company.id), ("id", "not in", runs_model.search([]).ids)]
        self.assertFalse(runs_model.search(domain), "a weekly company gets no monthly run")
        runs_model._cron_create_weekly_runs()
        runs_model._cron_create_weekly_runs()  # idempotent per period
        run = runs_model.search(domain)
        self.assertEqual(len(run), 1)
        self.assertEqual(run.period_end, date(2026, 11, 8))
        runs_model._cron_process_running(batch_size=10)
        billed = self.time.filtered("timesheet_invoice_id")
        self.assertEqual(billed.mapped("date"), [date(2026, 11, 4)], "time of this week waits for next week's run")
        self.assertAlmostEqual(billed.timesheet_invoice_id.amount_untaxed, 200.0)
