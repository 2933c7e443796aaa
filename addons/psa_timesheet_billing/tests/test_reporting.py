from datetime import date

from odoo import Command
from odoo.tests import new_test_user, tagged
from odoo.tools.safe_eval import safe_eval

from .billing_run_common import BillingRunCommon


@tagged("post_install", "-at_install")
class TestEngagementProfitability(BillingRunCommon):
    """Two customers, three confirmed orders, approved time with known costs, one invoice, one credit note.

    Customer A, project PA (its time line's project): order 1, 20 h at 100 and a 500 fee (the fee line is on
    no project: it counts for its order's project). 5 h approved of a consultant costing 40/h, 2 h waiting
    of one costing 60/h, 1 h rejected (not counted). A billing run invoices the 5 h and the fee (1,000,
    posted 1 November); a credit note takes 200 off the fee on 15 November.
    Customer B, project PB: order 2, 10 h at 150, 4 h approved of the 60/h consultant, invoiced in draft
    only (not counted); change order 3 adds a 300 fee to PB (its engagement), not delivered.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.analyst = new_test_user(cls.env, login="psa_profit_analyst", groups="account.group_account_invoice")
        cls.project_manager = new_test_user(cls.env, login="psa_profit_pm", groups="project.group_project_manager")
        cls.junior = cls.env["hr.employee"].create({"name": "Junior consultant", "hourly_cost": 40.0})
        cls.senior = cls.env["hr.employee"].create({"name": "Senior consultant", "hourly_cost": 60.0})

        cls.order_a = cls._create_order(cls.customer_a, [(cls.product_time, 20, 100.0), (cls.product_fixed, 1, 500.0)])
        cls.time_line_a, cls.fee_line_a = cls.order_a.order_line
        cls.project_a = cls._create_project(cls.time_line_a)
        cls.project_a.user_id = cls.project_manager
        cls.fee_line_a.qty_delivered = 1.0

        cls.order_b = cls._create_order(cls.customer_b, [(cls.product_time, 10, 150.0)])
        cls.project_b = cls._create_project(cls.order_b.order_line)
        cls.change_order_b = cls.env["sale.order"].create(
            {
                "partner_id": cls.customer_b.id,
                "psa_order_kind": "change_increase",
                "psa_engagement_project_id": cls.project_b.id,
                "order_line": [Command.create({"product_id": cls.product_fixed.id, "price_unit": 300.0})],
            }
        )
        cls.change_order_b.action_confirm()
        cls.change_order_b.date_order = cls.ORDER_DATE

        timesheets = cls.env["account.analytic.line"]
        cls.approved_a = cls._log(cls.junior, cls.time_line_a, cls.project_a, date(2026, 10, 5), 5.0)
        cls.waiting_a = cls._log(cls.senior, cls.time_line_a, cls.project_a, date(2026, 10, 6), 2.0)
        cls.rejected_a = cls._log(cls.junior, cls.time_line_a, cls.project_a, date(2026, 10, 7), 1.0)
        cls.approved_b = cls._log(cls.senior, cls.order_b.order_line, cls.project_b, date(2026, 10, 8), 4.0)
        (cls.approved_a | cls.approved_b).with_user(cls.ts_manager).action_psa_approve(reason="checked")
        cls.rejected_a.with_user(cls.ts_manager).action_psa_reject("not this project")
        cls.timesheets = timesheets | cls.approved_a | cls.waiting_a | cls.rejected_a | cls.approved_b

        run = cls.env["psa.billing.run"].create(
            {
                "period_end": cls.PERIOD_END,
                "invoice_date": cls.INVOICE_DATE,
                "partner_ids": [Command.set(cls.customer_a.ids)],
            }
        )
        run.action_preview()
        run.action_confirm()
        cls.billing_run = run
        cls.invoice_a = run.line_ids.move_id
        cls.credit_note_a = cls.env["account.move"].create(
            {
                "move_type": "out_refund",
                "partner_id": cls.customer_a.id,
                "invoice_date": date(2026, 11, 15),
                "reversed_entry_id": cls.invoice_a.id,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "product_id": cls.product_fixed.id,
                            "quantity": 1.0,
                            "price_unit": 200.0,
                            "tax_ids": [Command.clear()],
                            "sale_line_ids": [Command.set(cls.fee_line_a.ids)],
                        }
                    )
                ],
            }
        )
        cls.credit_note_a.action_post()
        cls.draft_invoice_b = cls.order_b._create_invoices()
        cls.env.flush_all()

    @classmethod
    def _log(cls, employee, sale_line, project, day, hours):
        return cls.env["account.analytic.line"].create(
            {
                "name": f"Work of {employee.name}",
                "project_id": project.id,
                "employee_id": employee.id,
                "so_line": sale_line.id,
                "date": day,
                "unit_amount": hours,
            }
        )

    def _by_project(self, user, aggregates, domain=()):
        report = self.env["psa.engagement.profitability"].with_user(user)
        groups = report._read_group(
            [("project_id", "in", (self.project_a | self.project_b).ids), *domain], ["project_id"], aggregates
        )
        return {project: values for project, *values in groups}

    def test_data_set_is_what_the_docstring_says(self):
        self.assertEqual(self.invoice_a.state, "posted")
        self.assertAlmostEqual(self.invoice_a.amount_untaxed, 1000.0)
        self.assertEqual(self.draft_invoice_b.state, "draft")
        self.assertAlmostEqual(self.time_line_a.qty_delivered, 5.0, msg="only approved time is delivered")
        self.assertAlmostEqual(-sum(self.approved_a.mapped("amount")), 200.0)
        self.assertAlmostEqual(-sum(self.waiting_a.mapped("amount")), 120.0)

    def test_each_measure_per_project_to_the_cent(self):
        measures = [
            "committed_amount:sum",
            "delivered_amount:sum",
            "invoiced_amount:sum",
            "to_invoice_amount:sum",
            "cost_amount:sum",
            "hours:sum",
            "margin:sum",
            "margin_percent:avg",
        ]
        figures = self._by_project(self.analyst, measures)
        expected = {
            # 20 h x 100 + 500 | 5 h x 100 + 500 | 1,000 - 200 | 1,000 - 800 | 5 h x 40 + 2 h x 60 | 7 h
            self.project_a: [2500.0, 1000.0, 800.0, 200.0, 320.0, 7.0, 680.0, 68.0],
            # 10 h x 150 + 300 | 4 h x 150 | draft invoice: 0 | 600 | 4 h x 60 | 4 h
            self.project_b: [1800.0, 600.0, 0.0, 600.0, 240.0, 4.0, 360.0, 60.0],
        }
        for project, values in expected.items():
            for measure, got, want in zip(measures, figures[project], values, strict=True):
                self.assertAlmostEqual(got, want, places=2, msg=f"{project.name}: {measure}")

    def test_measures_agree_with_the_records(self):
        figures = self._by_project(
            self.analyst, ["committed_amount:sum", "invoiced_amount:sum", "cost_amount:sum", "delivered_amount:sum"]
        )
        committed, invoiced, cost, delivered = figures[self.project_a]
        self.assertAlmostEqual(committed, self.order_a.amount_untaxed, places=2)
        self.assertAlmostEqual(
            invoiced, self.invoice_a.amount_untaxed_signed + self.credit_note_a.amount_untaxed_signed, places=2
        )
        counted = self.timesheets.filtered(
            lambda line: line.project_id == self.project_a and line.psa_approval_state != "rejected"
        )
        self.assertAlmostEqual(cost, -sum(counted.mapped("amount")), places=2)
        self.assertAlmostEqual(
            delivered, sum(line.qty_delivered * line.price_reduce_taxexcl for line in self.order_a.order_line), places=2
        )
        committed_b = figures[self.project_b][0]
        self.assertAlmostEqual(committed_b, self.order_b.amount_untaxed + self.change_order_b.amount_untaxed, places=2)

    def test_margin_percent_is_a_ratio_of_the_sums(self):
        """Both projects together: 1,040 margin on 1,600 delivered is 65 %, not the average of 68 and 60."""
        report = self.env["psa.engagement.profitability"].with_user(self.analyst)
        domain = [("project_id", "in", (self.project_a | self.project_b).ids)]
        [(margin, percent)] = report._read_group(domain, [], ["margin:sum", "margin_percent:avg"])
        self.assertAlmostEqual(margin, 1040.0, places=2)
        self.assertAlmostEqual(percent, 65.0, places=2)
        # what the pivot asks (public read_group, the field's own aggregator)
        [total] = report.read_group(domain, ["margin_percent", "margin"], [], lazy=False)
        self.assertAlmostEqual(total["margin_percent"], 65.0, places=2)

    def test_grouped_by_customer_and_month(self):
        report = self.env["psa.engagement.profitability"].with_user(self.project_manager)
        domain = [("project_id", "in", (self.project_a | self.project_b).ids)]
        by_customer = {
            partner: (committed, invoiced)
            for partner, committed, invoiced in report._read_group(
                domain, ["partner_id"], ["committed_amount:sum", "invoiced_amount:sum"]
            )
        }
        self.assertEqual(set(by_customer), {self.customer_a, self.customer_b})
        self.assertAlmostEqual(by_customer[self.customer_a][0], 2500.0, places=2)
        self.assertAlmostEqual(by_customer[self.customer_b][0], 1800.0, places=2)
        rows = report.read_group(domain, ["committed_amount", "invoiced_amount", "cost_amount"], ["date:month"])
        by_month = {row["date:month"]: row for row in rows}
        self.assertEqual(set(by_month), {"October 2026", "November 2026"})
        self.assertAlmostEqual(by_month["October 2026"]["committed_amount"], 4300.0, places=2)
        self.assertAlmostEqual(by_month["October 2026"]["cost_amount"], 560.0, places=2)
        self.assertAlmostEqual(by_month["October 2026"]["invoiced_amount"], 0.0, places=2)
        self.assertAlmostEqual(by_month["November 2026"]["invoiced_amount"], 800.0, places=2)
        managed = report._read_group([*domain, ("user_id", "=", self.project_manager.id)], ["project_id"])
        self.assertEqual([row[0] for row in managed], [self.project_a])

    def test_project_form_figures_and_button(self):
        project = self.project_a.with_user(self.project_manager)
        self.assertAlmostEqual(project.psa_profit_margin, 680.0, places=2)
        self.assertAlmostEqual(project.psa_profit_margin_percent, 68.0, places=2)
        self.assertAlmostEqual(project.psa_profit_cost, 320.0, places=2)
        self.assertAlmostEqual(project.psa_profit_invoiced, 800.0, places=2)
        action = project.action_psa_view_profitability()
        self.assertEqual(action["res_model"], "psa.engagement.profitability")
        rows = self.env["psa.engagement.profitability"].with_user(self.project_manager).search(action["domain"])
        self.assertEqual(rows.project_id, self.project_a)
        self.assertAlmostEqual(sum(rows.mapped("margin")), 680.0, places=2)

    def test_report_is_read_only(self):
        report = self.env["psa.engagement.profitability"].with_user(self.analyst)
        self.assertTrue(report.has_access("read"))
        self.assertFalse(report.has_access("write"))
        self.assertFalse(report.has_access("create"))
        self.assertFalse(self.env["psa.engagement.profitability"].with_user(self.ts_manager).has_access("read"))

    def test_other_company_figures_are_not_shown(self):
        """The multi-company rule: time spent in a company the user is not in is not in their report."""
        other = self.env["res.company"].create({"name": "Other PSA company"})
        project = (
            self.env["project.project"]
            .with_company(other)
            .create({"name": "Other company's engagement", "company_id": other.id, "allow_timesheets": True})
        )
        employee = (
            self.env["hr.employee"]
            .with_company(other)
            .create({"name": "Other consultant", "company_id": other.id, "hourly_cost": 50.0})
        )
        self.env["account.analytic.line"].with_company(other).create(
            {"name": "Work", "project_id": project.id, "employee_id": employee.id, "unit_amount": 3.0}
        )
        self.env.flush_all()
        report = self.env["psa.engagement.profitability"]
        [(cost,)] = report.with_company(other)._read_group([("project_id", "=", project.id)], [], ["cost_amount:sum"])
        self.assertAlmostEqual(cost, 150.0, places=2)
        self.assertFalse(report.with_user(self.analyst).search([("project_id", "=", project.id)]))

    def test_billing_run_lines_report(self):
        """What the pivot of billing-run lines shows (customer x source) is what the run invoiced."""
        lines = self.env["psa.billing.run.line"].with_user(self.clerk)
        rows = lines.read_group(
            [("run_id", "=", self.billing_run.id), ("state", "=", "invoiced")],
            ["amount"],
            ["partner_id", "source_type"],
            lazy=False,
        )
        figures = {(row["partner_id"][0], row["source_type"]): row["amount"] for row in rows}
        self.assertEqual(
            figures, {(self.customer_a.id, "time"): 500.0, (self.customer_a.id, "service"): 500.0}, "5 h x 100, fee"
        )
        self.assertAlmostEqual(sum(figures.values()), self.invoice_a.amount_untaxed, places=2)

    def test_time_awaiting_approval_report(self):
        """The report's action domain and default group-bys: what waits, per project and month."""
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "psa_timesheet_billing.action_psa_time_to_approve_report"
        )
        domain = [*safe_eval(action["domain"]), ("project_id", "in", (self.project_a | self.project_b).ids)]
        timesheets = self.env["account.analytic.line"].with_user(self.ts_manager)
        rows = timesheets.read_group(domain, ["unit_amount"], ["project_id", "date:month"], lazy=False)
        self.assertEqual([(row["project_id"][0], row["unit_amount"]) for row in rows], [(self.project_a.id, 2.0)])
        self.assertEqual(timesheets.search(domain), self.waiting_a)


@tagged("post_install", "-at_install")
class TestPrepaidDrawdownReport(BillingRunCommon):
    """An 8 h fund of customer A: 6 h then 5 h approved in October draw 6 h and 2 h, 3 h over."""

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
        order = cls._create_order(cls.customer_a, [(cls.product_time, 40, 120.0)])
        project = cls._create_project(order.order_line)
        cls._log_time(order.order_line, project, [(date(2026, 10, 7), 6.0), (date(2026, 10, 14), 5.0)])

    def test_drawdowns_by_fund_and_month(self):
        drawdowns = self.env["psa.prepaid.drawdown"].with_user(self.clerk)
        rows = drawdowns.read_group(
            [("fund_id", "=", self.fund.id)], ["quantity", "overage_quantity"], ["fund_id", "date:month"], lazy=False
        )
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0]["date:month"], "October 2026")
        self.assertAlmostEqual(rows[0]["quantity"], 11.0, places=2)
        self.assertAlmostEqual(rows[0]["overage_quantity"], 3.0, places=2)
        self.assertAlmostEqual(rows[0]["quantity"], self.fund.consumed_quantity, places=2)
        self.assertAlmostEqual(rows[0]["overage_quantity"], self.fund.overage_quantity, places=2)
