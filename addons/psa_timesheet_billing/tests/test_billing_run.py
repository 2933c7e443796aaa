from datetime import date
from unittest.mock import patch

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, new_test_user, tagged

from ..tools.billing_run import billing_key
from .billing_run_common import BillingRunCommon

APPROVED_A = [(date(2026, 10, 2), 2.0), (date(2026, 10, 9), 3.0), (date(2026, 10, 20), 1.5)]
APPROVED_B = [(date(2026, 10, 12), 1.0), (date(2026, 10, 13), 2.0)]


@tagged("post_install", "-at_install")
class TestBillingRun(BillingRunCommon):
    """Customer A: time and materials with approved October time, time still to approve and time
    logged after the period end. Customer B: an onboarding fee billed on order, plus October time."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.order_a = cls._create_order(cls.customer_a, [(cls.product_time, 40, 120.0)], po="PO-A-1")
        cls.line_a = cls.order_a.order_line
        cls.project_a = cls._create_project(cls.line_a)
        cls.time_a = cls._log_time(cls.line_a, cls.project_a, APPROVED_A)
        cls.time_a_waiting = cls._log_time(cls.line_a, cls.project_a, [(date(2026, 10, 28), 4.0)], approve=False)
        cls.time_a_november = cls._log_time(cls.line_a, cls.project_a, [(date(2026, 11, 3), 2.0)])
        cls.order_b = cls._create_order(
            cls.customer_b, [(cls.product_fixed, 1, 500.0), (cls.product_time, 10, 120.0)], po="PO-B-1"
        )
        cls.fee_b, cls.line_b = cls.order_b.order_line
        cls.project_b = cls._create_project(cls.line_b)
        cls.time_b = cls._log_time(cls.line_b, cls.project_b, APPROVED_B)
        cls.customers = cls.customer_a | cls.customer_b

    def _invoices(self, partner):
        return self.env["account.move"].search([("partner_id", "=", partner.id), ("move_type", "=", "out_invoice")])

    def _expected_time(self, entries, rate):
        return sum(hours for _day, hours in entries) * rate

    def test_preview_writes_no_invoice_and_confirm_bills_the_previewed_totals(self):
        run = self._new_run(partner_ids=[Command.set(self.customers.ids)])
        run.action_preview()
        self.assertEqual(run.state, "previewed")
        self.assertFalse(
            self._invoices(self.customer_a) | self._invoices(self.customer_b), "a preview writes no invoice"
        )
        previewed = {
            partner: sum(
                run.line_ids.filtered(lambda line, p=partner: line.partner_id == p and line.kind == "bill").mapped(
                    "amount"
                )
            )
            for partner in self.customers
        }
        self.assertAlmostEqual(previewed[self.customer_a], self._expected_time(APPROVED_A, 120.0))
        self.assertAlmostEqual(previewed[self.customer_b], 500.0 + self._expected_time(APPROVED_B, 120.0))
        waiting = run.line_ids.filtered(lambda line: line.kind == "skip" and line.partner_id == self.customer_a)
        self.assertEqual(len(waiting), 1)
        self.assertIn("wait for approval", waiting.skip_reason)
        self.assertIn("4.0 h", waiting.skip_reason)
        # the skipped line shows what the waiting time would bill, in its currency (not a bare 0.00)
        self.assertAlmostEqual(waiting.amount, 4.0 * 120.0)
        self.assertEqual(waiting.currency_id, self.line_a.currency_id)
        self.assertAlmostEqual(run.amount_to_bill, sum(previewed.values()), msg="skipped amounts are not to bill")
        self.assertIn(self.customer_a.name, run.summary)

        run.action_confirm()
        self.assertEqual(run.state, "done")
        self.assertEqual((run.progress_done, run.progress_total), (2, 2))
        for partner in self.customers:
            invoice = self._invoices(partner)
            self.assertEqual(len(invoice), 1)
            self.assertEqual(invoice.state, "posted")
            self.assertEqual(invoice.invoice_date, self.INVOICE_DATE)
            self.assertAlmostEqual(
                invoice.amount_untaxed, previewed[partner], msg="confirm bills what the preview showed"
            )
        invoice_a = self._invoices(self.customer_a)
        self.assertEqual(self.time_a.timesheet_invoice_id, invoice_a)
        self.assertFalse(self.time_a_waiting.timesheet_invoice_id, "time waiting for approval is not billed")
        self.assertFalse(self.time_a_november.timesheet_invoice_id, "time after the period end is not billed")
        self.assertEqual(invoice_a.ref, "PO-A-1")
        self.assertAlmostEqual(self.line_a.qty_invoiced, 6.5)
        # the run's Invoices button opens its invoices as customer invoices (Customer, Invoice Date columns)
        action = run.action_view_invoices()
        self.assertEqual(self.env["account.move"].search(action["domain"]), run.invoice_ids)
        self.assertEqual(action["context"].get("default_move_type"), "out_invoice")
        self.assertFalse(action["context"].get("create"))

    def _preview_lines(self, run):
        return sorted(
            (line.partner_id.id, line.kind, line.source_model or "", line.source_res_id, line.amount, line.skip_reason)
            for line in run.line_ids
        )

    def test_a_preview_collected_customer_by_customer_gives_the_same_lines(self):
        idle = self.env["res.partner"].create({"name": "Run Idle Customer", "is_company": True})
        named = (self.customer_a | self.customer_b | idle).ids
        whole = self._new_run(partner_ids=[Command.set(named)])
        whole.action_preview()
        expected = self._preview_lines(whole)
        everyone = self._new_run()
        everyone.action_preview()
        expected_everyone = self._preview_lines(everyone)
        self.assertTrue(
            {(self.customer_a.id, "bill"), (self.customer_b.id, "bill")} <= {row[:2] for row in expected_everyone}
        )
        whole.action_reset_to_draft()
        everyone.action_reset_to_draft()
        self.env["ir.config_parameter"].sudo().set_param("psa_timesheet_billing.preview_chunk_customers", "1")
        by_customer = self._new_run(partner_ids=[Command.set(named)])
        self.assertEqual(len(by_customer._psa_preview_customer_chunks()), 3, "one chunk per customer")
        by_customer.action_preview()
        self.assertEqual(self._preview_lines(by_customer), expected, "the idle customer's skip line included")
        by_customer.action_reset_to_draft()
        everyone = self._new_run()
        everyone.action_preview()
        self.assertEqual(self._preview_lines(everyone), expected_everyone)
        everyone.action_reset_to_draft()
        # a source that does not narrow its search to the chunk's customers gives each chunk everything:
        # each customer's lines are still kept once, from its own chunk
        with patch.object(type(self.env["psa.billing.run"]), "_psa_customer_ids", lambda run: None):
            ignoring = self._new_run(partner_ids=[Command.set(named)])
            ignoring.action_preview()
        ours = set(self.customers.ids)
        self.assertEqual(
            [row for row in self._preview_lines(ignoring) if row[0] in ours],
            [row for row in expected if row[0] in ours],
        )
        ignoring.action_reset_to_draft()
        by_customer = self._new_run(partner_ids=[Command.set(named)])
        by_customer.action_preview()
        by_customer.action_confirm()
        self.assertEqual(by_customer.state, "done")
        self.assertEqual(by_customer.invoice_count, 2)
        self.assertAlmostEqual(by_customer.amount_billed, sum(row[4] for row in expected if row[1] == "bill"))

    def test_every_invoice_line_explains_itself(self):
        run = self._new_run(partner_ids=[Command.set(self.customer_b.ids)])
        run.action_preview()
        run.action_confirm()
        invoice = self._invoices(self.customer_b)
        time_line = invoice.invoice_line_ids.filtered(lambda line: line.sale_line_ids == self.line_b)
        fee_line = invoice.invoice_line_ids.filtered(lambda line: line.sale_line_ids == self.fee_b)
        self.assertEqual(invoice.state, "posted", "the explanation is kept after posting")
        for expected in ("2 approved time entries", "3.0 h", "2026-10-12", "2026-10-13", self.order_b.name, "Hours"):
            self.assertIn(expected, time_line.psa_billing_explanation)
        self.assertIn("Service: 1.0", fee_line.psa_billing_explanation)
        self.assertIn("invoicing policy", fee_line.psa_billing_explanation)

    def test_milestone_line_names_the_reached_milestone(self):
        product = self.env["product.product"].create(
            {
                "name": "Run fixed-price rollout",
                "type": "service",
                "invoice_policy": "delivery",
                "service_type": "milestones",
                "list_price": 8000.0,
            }
        )
        order = self._create_order(self.customer_a, [(product, 1, 8000.0)])
        project = self._create_project(order.order_line)
        milestone = self.env["project.milestone"].create(
            {
                "name": "Design signed off",
                "project_id": project.id,
                "sale_line_id": order.order_line.id,
            }
        )
        milestone.quantity_percentage = 0.25
        with freeze_time("2026-10-20"):
            milestone.is_reached = True
            milestone.flush_recordset()
        run = self._new_run(partner_ids=[Command.set(self.customer_a.ids)], grouping="order")
        run.action_preview()
        run.action_confirm()
        invoice_line = order.order_line.invoice_lines
        self.assertEqual(len(invoice_line), 1)
        self.assertAlmostEqual(invoice_line.price_subtotal, 2000.0)
        self.assertIn("Milestones reached: Design signed off", invoice_line.psa_billing_explanation)

    def test_rerun_and_a_second_run_bill_nothing_twice(self):
        first = self._new_run(partner_ids=[Command.set(self.customers.ids)])
        second = self._new_run(partner_ids=[Command.set(self.customers.ids)])
        first.action_preview()
        second.action_preview()
        self.assertAlmostEqual(first.amount_to_bill, second.amount_to_bill)
        first.action_confirm()
        second.action_confirm()
        self.assertEqual(second.invoice_count, 0)
        self.assertTrue(all(line.state == "skipped" for line in second.line_ids))
        rerun = self._new_run(partner_ids=[Command.set(self.customers.ids)], mode="automatic")
        rerun.action_confirm()
        self.assertEqual(rerun.invoice_count, 0)
        for sale_line in self.line_a | self.fee_b | self.line_b:
            self.assertEqual(len(sale_line.invoice_lines), 1, "each order line is invoiced exactly once")
        self.assertEqual(len(self._invoices(self.customer_a) | self._invoices(self.customer_b)), 2)

    def test_a_key_taken_by_another_run_stops_the_double_bill(self):
        """Another run committed the key of one time entry (seen before billing) or while we bill (at insert)."""
        run = self._new_run(partner_ids=[Command.set(self.customers.ids)])
        run.action_preview()
        self.env["psa.billing.key"].sudo().create(
            {"name": billing_key("account.analytic.line", self.time_a[0].id, "time"), "company_id": self.env.company.id}
        )
        run.action_confirm()
        line_a = run.line_ids.filtered(lambda line: line.sale_line_id == self.line_a and line.kind == "bill")
        self.assertEqual(line_a.state, "skipped")
        self.assertIn("already billed", line_a.skip_reason)
        self.assertFalse(self._invoices(self.customer_a))
        self.assertEqual(len(self._invoices(self.customer_b)), 1, "the other customer is billed")

    def test_a_key_inserted_concurrently_fails_only_that_customer(self):
        run = self._new_run(partner_ids=[Command.set(self.customers.ids)])
        run.action_preview()
        self.env["psa.billing.key"].sudo().create(
            {"name": billing_key("account.analytic.line", self.time_b[0].id, "time"), "company_id": self.env.company.id}
        )
        key_model = self.registry["psa.billing.key"]
        with patch.object(key_model, "_psa_existing", autospec=True, return_value={}):
            run.action_confirm()
        self.assertEqual(run.state, "failed")
        failed = run.line_ids.filtered(lambda line: line.state == "failed")
        self.assertEqual(failed.partner_id, self.customer_b)
        self.assertIn("billed by another run", failed[0].skip_reason)
        self.assertFalse(self._invoices(self.customer_b), "the failed customer's invoice is rolled back")
        self.assertEqual(len(self._invoices(self.customer_a)), 1)

    def test_crash_after_first_invoice_then_resume_bills_each_thing_once(self):
        self.env["ir.config_parameter"].sudo().set_param("psa_timesheet_billing.run_batch_size", "1")
        run = self._new_run(partner_ids=[Command.set(self.customers.ids)])
        run.action_preview()
        with (
            patch.object(self.registry["psa.billing.run"], "_psa_after_batch", side_effect=RuntimeError("killed")),
            self.assertRaisesRegex(RuntimeError, "killed"),
        ):
            run.action_confirm()
        self.assertEqual(run.state, "running")
        self.assertEqual(run.progress_done, 1)
        self.assertEqual(run.invoice_count, 1)
        self.env["psa.billing.run"]._cron_process_running(batch_size=1)
        self.assertEqual(run.state, "done")
        self.assertEqual(run.invoice_count, 2)
        for sale_line in self.line_a | self.fee_b | self.line_b:
            self.assertEqual(len(sale_line.invoice_lines), 1, "nothing billed twice, nothing missing")
        self.assertTrue(all(self.time_a.mapped("timesheet_invoice_id")))
        self.assertTrue(all(self.time_b.mapped("timesheet_invoice_id")))

    def test_failing_customer_is_reported_and_the_rest_goes_on(self):
        income = self.env["account.account"].create(
            {"name": "Run retired income", "code": "RUN999", "account_type": "income"}
        )
        self.product_fixed.property_account_income_id = income
        income.deprecated = True
        run = self._new_run(partner_ids=[Command.set(self.customers.ids)])
        run.action_preview()
        run.action_confirm()
        self.assertEqual(run.state, "failed")
        failed = run.line_ids.filtered(lambda line: line.state == "failed")
        self.assertEqual(failed.partner_id, self.customer_b)
        self.assertIn("deprecated", failed[0].skip_reason)
        self.assertFalse(self._invoices(self.customer_b))
        self.assertEqual(len(self._invoices(self.customer_a)), 1)
        # finance fixes the account and retries: only the failed customer is billed now
        income.deprecated = False
        run.action_confirm()
        self.assertEqual(run.state, "done")
        self.assertEqual(len(self._invoices(self.customer_b)), 1)
        self.assertEqual(len(self._invoices(self.customer_a)), 1)

    def test_grouping_per_order_customer_and_po(self):
        second_order = self._create_order(self.customer_a, [(self.product_fixed, 2, 300.0)], po="PO-A-2")
        third_order = self._create_order(self.customer_a, [(self.product_fixed, 1, 100.0)], po="PO-A-2")
        expected = {"order": 3, "po": 2, "customer": 1}
        for grouping, count in expected.items():
            with self.subTest(grouping=grouping):
                run = self._new_run(partner_ids=[Command.set(self.customer_a.ids)], grouping=grouping)
                run.action_preview()
                self.assertEqual(
                    len(set(run.line_ids.filtered(lambda line: line.kind == "bill").mapped("group_key"))), count
                )
        run = self._new_run(partner_ids=[Command.set(self.customer_a.ids)], grouping="customer")
        run.action_preview()
        run.action_confirm()
        invoice = self._invoices(self.customer_a)
        self.assertEqual(len(invoice), 1)
        self.assertEqual(len(invoice.invoice_line_ids), 3)
        for order in self.order_a | second_order | third_order:
            self.assertIn(order.name, invoice.invoice_origin)
        self.assertEqual(invoice.ref, "PO-A-1, PO-A-2")

    def test_hold_and_nothing_to_bill_are_skipped_with_their_reason(self):
        self.customer_a.write({"psa_billing_hold": True, "psa_billing_hold_reason": "disputed invoice"})
        idle = self.env["res.partner"].create({"name": "Run Idle Customer", "is_company": True})
        run = self._new_run(partner_ids=[Command.set((self.customer_a | idle).ids)])
        run.action_preview()
        held = run.line_ids.filtered(lambda line: line.partner_id == self.customer_a and line.source_type == "time")
        self.assertIn("customer on hold: disputed invoice", held.mapped("skip_reason"))
        idle_line = run.line_ids.filtered(lambda line: line.partner_id == idle)
        self.assertIn("nothing to bill up to 2026-10-31", idle_line.skip_reason)
        self.assertEqual(idle_line.currency_id, run.currency_id, "0.00 is shown with its currency")
        run.action_confirm()
        self.assertEqual(run.invoice_count, 0)
        self.assertFalse(self._invoices(self.customer_a))

    def test_cancelled_invoice_frees_its_sources(self):
        run = self._new_run(partner_ids=[Command.set(self.customer_a.ids)], mode="automatic")
        run.action_confirm()
        invoice = self._invoices(self.customer_a)
        invoice.button_draft()
        invoice.button_cancel()
        rerun = self._new_run(partner_ids=[Command.set(self.customer_a.ids)], mode="automatic")
        rerun.action_confirm()
        self.assertEqual(rerun.invoice_count, 1)
        self.assertAlmostEqual(rerun.invoice_ids.amount_untaxed, invoice.amount_untaxed)
        self.assertEqual(self.time_a.timesheet_invoice_id, rerun.invoice_ids)

    def test_send_option_queues_the_posted_invoices(self):
        run = self._new_run(partner_ids=[Command.set(self.customer_b.ids)], mode="automatic", send_invoices=True)
        run.action_confirm()
        self.assertTrue(run.invoice_ids.is_being_sent)

    def test_draft_option_leaves_invoices_draft(self):
        run = self._new_run(partner_ids=[Command.set(self.customer_b.ids)], mode="automatic", post_invoices=False)
        run.action_confirm()
        self.assertEqual(run.invoice_ids.state, "draft")
        self.assertTrue(run.invoice_ids.invoice_line_ids.mapped("psa_billing_explanation")[0])

    def test_clerk_uses_the_form_and_others_cannot_see_runs(self):
        with Form(self.env["psa.billing.run"].with_user(self.clerk)) as form:
            form.period_end = self.PERIOD_END
            form.invoice_date = self.INVOICE_DATE
            form.partner_ids.add(self.customer_b)
        run = form.save()
        self.assertEqual(run.company_ids, self.clerk.company_id)
        with self.assertRaisesRegex(UserError, "preview-first"):
            run.action_confirm()
        run.action_preview()
        self.assertEqual(run.state, "previewed")
        salesman = new_test_user(self.env, login="psa_run_salesman", groups="sales_team.group_sale_salesman")
        with self.assertRaises(AccessError):
            self.env["psa.billing.run"].with_user(salesman).search([])

    def test_runs_are_company_scoped(self):
        other_company = self.env["res.company"].create({"name": "Run Other Company"})
        foreign_run = self.env["psa.billing.run"].create(
            {
                "company_id": other_company.id,
                "company_ids": [Command.set(other_company.ids)],
                "period_end": self.PERIOD_END,
            }
        )
        self.assertFalse(self.env["psa.billing.run"].with_user(self.clerk).search([("id", "=", foreign_run.id)]))
        own_run = self._new_run(company_ids=[Command.set((self.env.company | other_company).ids)])
        with self.assertRaisesRegex(UserError, "no access"):
            own_run.action_preview()
        self.assertEqual(own_run.state, "draft")

    def test_time_approved_after_the_preview_is_billed_and_shown(self):
        run = self._new_run(partner_ids=[Command.set(self.customer_a.ids)])
        run.action_preview()
        line = run.line_ids.filtered(lambda run_line: run_line.kind == "bill")
        previewed = line.amount
        self.time_a_waiting.with_user(self.ts_manager).action_psa_approve()
        run.action_confirm()
        self.assertAlmostEqual(line.amount, previewed + 4.0 * 120.0, msg="the run line shows what was billed")
        self.assertAlmostEqual(run.invoice_ids.amount_untaxed, line.amount)
        self.assertIn("4 approved time entries", line.explanation)
