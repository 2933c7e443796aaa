from datetime import date

from freezegun import freeze_time

from odoo import Command
from odoo.tests import tagged

from .billing_run_common import BillingRunCommon

# 5 h at 100.00 for customer A, 3 h at 100.00 for customer B, logged in October
TIME_A = [(date(2026, 10, 15), 5.0)]
TIME_B = [(date(2026, 10, 16), 3.0)]


@tagged("post_install", "-at_install")
class TestBillingRunCadence(BillingRunCommon):
    """Customer A is billed as you go, customer B follows the company (monthly).

    The as-you-go cron (hourly) bills A the day its time is released, one invoice per customer and
    day; the monthly cron bills B, and never A; nothing is ever billed twice between the cadences.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.psa_billing_run_frequency = "monthly"
        cls.customer_a.psa_billing_cadence = "as_you_go"
        cls.order_a = cls._create_order(cls.customer_a, [(cls.product_time, 40, 100.0)])
        cls.project_a = cls._create_project(cls.order_a.order_line)
        cls.order_b = cls._create_order(cls.customer_b, [(cls.product_time, 40, 100.0)])
        cls.project_b = cls._create_project(cls.order_b.order_line)
        cls.time_a = cls._log_time(cls.order_a.order_line, cls.project_a, TIME_A)
        cls.time_b = cls._log_time(cls.order_b.order_line, cls.project_b, TIME_B)
        cls.runs = cls.env["psa.billing.run"]

    def _runs(self, cadence):
        return self.runs.search([("cadence", "=", cadence), ("company_id", "=", self.env.company.id)])

    def _invoices(self, partner):
        return self.env["account.move"].search(
            [("partner_id", "=", partner.id), ("move_type", "=", "out_invoice"), ("state", "!=", "cancel")]
        )

    def test_contact_follows_its_company_and_company_default(self):
        contact = self.env["res.partner"].create({"name": "A's accountant", "parent_id": self.customer_a.id})
        self.assertEqual(contact.psa_billing_cadence, "as_you_go", "a contact is billed as its company")
        self.customer_a.psa_billing_cadence = "weekly"
        self.assertEqual(contact.psa_billing_cadence, "weekly")
        run = self._new_run(cadence="monthly")
        on_cadence = run._psa_partners_on_cadence(self.customer_a | self.customer_b | contact)
        self.assertEqual(on_cadence, self.customer_b, "no cadence of its own: the company's (monthly)")

    @freeze_time("2026-11-02 10:00:00")
    def test_as_you_go_run_bills_only_as_you_go_customers(self):
        self.runs._cron_bill_as_you_go()
        run = self._runs("as_you_go")
        self.assertEqual(len(run), 1)
        self.assertEqual(run.state, "done")
        self.assertEqual((run.period_end, run.invoice_date), (date(2026, 11, 2), date(2026, 11, 2)))
        self.assertEqual((run.mode, run.grouping), ("automatic", "customer"))
        self.assertEqual(run.name, "As-you-go billing run of 2026-11-02")
        self.assertEqual(run.line_ids.partner_id, self.customer_a, "a monthly customer is not in the as-you-go run")
        invoice = self._invoices(self.customer_a)
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(invoice.amount_untaxed, 500.0)
        self.assertEqual(invoice.invoice_date, date(2026, 11, 2))
        self.assertIn("1 approved time entries, 5.0 h", invoice.invoice_line_ids.psa_billing_explanation)
        self.assertEqual(self.time_a.timesheet_invoice_id, invoice)
        self.assertFalse(self.time_b.timesheet_invoice_id)
        self.assertFalse(self._invoices(self.customer_b))

    @freeze_time("2026-11-02 03:00:00")
    def test_monthly_run_leaves_as_you_go_customers_out(self):
        self.env["res.config.settings"].create({"psa_billing_run_mode": "automatic"}).execute()
        self.runs._cron_create_monthly_runs()
        self.runs._cron_process_running()
        run = self._runs("monthly")
        self.assertEqual(len(run), 1)
        self.assertIn(run.state, ("done", "failed"))
        self.assertNotIn(self.customer_a, run.line_ids.partner_id, "an as-you-go customer is not in the monthly run")
        self.assertEqual(self.time_b.timesheet_invoice_id.amount_untaxed, 300.0)
        self.assertFalse(self._invoices(self.customer_a))
        # the as-you-go cron bills A, and only A
        self.runs._cron_bill_as_you_go()
        self.assertEqual(self._runs("as_you_go").line_ids.partner_id, self.customer_a)
        self.assertEqual(self._invoices(self.customer_a).amount_untaxed, 500.0)
        self.assertEqual(len(self._invoices(self.customer_b)), 1)

    def test_one_invoice_per_customer_and_day(self):
        """A burst of approvals the same day: the first run of the day invoices, the next ones of that
        day leave the customer for the next day (the invoice of the day is posted already)."""
        second_order = self._create_order(self.customer_a, [(self.product_fixed, 1, 250.0)])
        customer_c = self.env["res.partner"].create(
            {"name": "Run Customer C", "is_company": True, "psa_billing_cadence": "as_you_go"}
        )
        order_c = self._create_order(customer_c, [(self.product_time, 10, 100.0)])
        project_c = self._create_project(order_c.order_line)
        with freeze_time("2026-11-02 09:00:00"):
            self.runs._cron_bill_as_you_go()
            first = self._invoices(self.customer_a)
            self.assertEqual(len(first), 1, "time and fixed fee of two orders: one invoice for the customer")
            self.assertEqual(first.amount_untaxed, 750.0)
            self.assertEqual(first.invoice_line_ids.sale_line_ids.order_id, self.order_a | second_order)
        with freeze_time("2026-11-02 10:00:00"):
            later = self._log_time(self.order_a.order_line, self.project_a, [(date(2026, 11, 2), 2.0)])
            time_c = self._log_time(order_c.order_line, project_c, [(date(2026, 11, 2), 1.5)])
            self.runs._cron_bill_as_you_go()
            self.assertEqual(self._invoices(self.customer_a), first, "no second invoice for A today")
            self.assertFalse(later.timesheet_invoice_id)
            self.assertEqual(time_c.timesheet_invoice_id.amount_untaxed, 150.0, "C was not invoiced today yet")
            second_run = self._runs("as_you_go").filtered(lambda run: customer_c in run.line_ids.partner_id)
            waiting = second_run.line_ids.filtered(lambda line: line.partner_id == self.customer_a)
            self.assertEqual(waiting.mapped("state"), ["skipped"])
            self.assertIn(f"already invoiced today on {first.name}", waiting.skip_reason)
            self.assertIn("one invoice per customer and day", waiting.skip_reason)
        with freeze_time("2026-11-02 11:00:00"):
            runs_before = self._runs("as_you_go")
            self.runs._cron_bill_as_you_go()
            self.assertEqual(self._runs("as_you_go"), runs_before, "nothing to bill today: no empty run kept")
        with freeze_time("2026-11-03 00:30:00"):
            self.runs._cron_bill_as_you_go()
            next_day = self._invoices(self.customer_a) - first
            self.assertEqual(len(next_day), 1)
            self.assertEqual(next_day.invoice_date, date(2026, 11, 3))
            self.assertEqual(next_day.amount_untaxed, 200.0, "the 2 h released yesterday after the day's invoice")
            self.assertEqual(later.timesheet_invoice_id, next_day)

    @freeze_time("2026-11-02 10:00:00")
    def test_rerun_bills_nothing_twice(self):
        self.runs._cron_bill_as_you_go()
        self.runs._cron_bill_as_you_go()
        self.assertEqual(len(self._runs("as_you_go")), 1, "a rerun creates no second run")
        self.assertEqual(len(self._invoices(self.customer_a)), 1)
        # the customer moves to monthly: the monthly run does not bill its time again (exactly-once keys)
        self.customer_a.psa_billing_cadence = "monthly"
        self.env["res.config.settings"].create({"psa_billing_run_mode": "automatic"}).execute()
        self.runs._cron_create_monthly_runs()
        self.runs._cron_process_running()
        monthly = self._runs("monthly")
        self.assertFalse(
            monthly.line_ids.filtered(lambda line: line.partner_id == self.customer_a and line.kind == "bill")
        )
        # a manual run for every customer bills it no more either
        manual = self._new_run(period_end=date(2026, 11, 2), partner_ids=[(6, 0, self.customer_a.ids)])
        manual.action_preview()
        self.assertFalse(manual.line_ids.filtered(lambda line: line.kind == "bill"))
        self.assertEqual(len(self._invoices(self.customer_a)), 1)

    @freeze_time("2026-11-02 10:00:00")
    def test_unfinished_as_you_go_run_is_resumed_not_doubled(self):
        """A crash after the run was created and previewed: the next cycle finishes it."""
        run = self.runs._psa_create_as_you_go_run(self.env.company, date(2026, 11, 2))
        self.assertEqual(run.state, "running")
        self.runs._cron_bill_as_you_go()
        self.assertEqual(self._runs("as_you_go"), run)
        self.assertEqual(run.state, "done")
        self.assertEqual(self._invoices(self.customer_a).amount_untaxed, 500.0)

    @freeze_time("2026-11-03 02:00:00")
    def test_weekly_customer_of_a_monthly_company(self):
        """The weekly cron creates a run for a monthly company with a weekly customer: it bills that
        customer only; the monthly and as-you-go customers are left to their own runs."""
        self.customer_b.psa_billing_cadence = "weekly"
        self.env["res.config.settings"].create({"psa_billing_run_mode": "automatic"}).execute()
        self.runs._cron_create_weekly_runs()
        self.runs._cron_process_running()
        run = self._runs("weekly")
        self.assertEqual(len(run), 1)
        self.assertEqual(run.period_end, date(2026, 11, 1))
        self.assertEqual(run.line_ids.partner_id, self.customer_b)
        self.assertEqual(self.time_b.timesheet_invoice_id.amount_untaxed, 300.0)
        self.assertFalse(self.time_a.timesheet_invoice_id)

    @freeze_time("2026-11-02 10:00:00")
    def test_company_billing_as_you_go_by_default(self):
        """The company bills as you go; customer A asks for monthly invoices: the monthly cron still
        creates the company's run, for A alone."""
        self.env.company.psa_billing_run_frequency = "as_you_go"
        self.customer_a.psa_billing_cadence = "monthly"
        self.runs._cron_bill_as_you_go()
        # (other customers of the database without a cadence are billed as you go too)
        billed = self._runs("as_you_go").line_ids.partner_id
        self.assertIn(self.customer_b, billed)
        self.assertNotIn(self.customer_a, billed)
        self.assertEqual(self.time_b.timesheet_invoice_id.amount_untaxed, 300.0)
        self.env["res.config.settings"].create({"psa_billing_run_mode": "automatic"}).execute()
        self.runs._cron_create_monthly_runs()
        self.runs._cron_process_running()
        self.assertEqual(self._runs("monthly").line_ids.partner_id, self.customer_a)
        self.assertEqual(self.time_a.timesheet_invoice_id.amount_untaxed, 500.0)

    @freeze_time("2026-11-02 10:00:00")
    def test_agreement_with_a_cadence_of_its_own(self):
        """Customer B is monthly, its support agreement as you go: the as-you-go run bills the due
        period of the agreement and not B's time; the monthly run bills B's time, not the agreement."""
        agreement = self.env["contract.contract"].create(
            {
                "name": "Cadence support agreement",
                "partner_id": self.customer_b.id,
                "line_recurrence": True,
                "psa_billing_cadence": "as_you_go",
                "contract_line_ids": [
                    Command.create(
                        {
                            "product_id": self.product_fixed.id,
                            "name": "Support #START# - #END#",
                            "quantity": 1,
                            "uom_id": self.env.ref("uom.product_uom_unit").id,
                            "price_unit": 450.0,
                            "recurring_rule_type": "monthly",
                            "recurring_interval": 1,
                            "date_start": date(2026, 10, 1),
                        }
                    )
                ],
            }
        )
        # October's period is due for the monthly run (up to 2026-10-31) too: it leaves it out
        self.env["res.config.settings"].create({"psa_billing_run_mode": "automatic"}).execute()
        self.runs._cron_create_monthly_runs()
        self.runs._cron_process_running()
        monthly = self._runs("monthly")
        self.assertFalse(monthly.line_ids.filtered(lambda line: line.contract_id == agreement))
        self.assertEqual(self.time_b.timesheet_invoice_id.amount_untaxed, 300.0)
        self.assertFalse(agreement._get_related_invoices())
        self.runs._cron_bill_as_you_go()
        as_you_go = self._runs("as_you_go")
        b_lines = as_you_go.line_ids.filtered(lambda line: line.partner_id == self.customer_b)
        self.assertEqual(b_lines.contract_id, agreement)
        self.assertEqual(b_lines.mapped("source_type"), ["recurring"], "B's own time is the monthly run's")
        self.assertEqual(agreement._get_related_invoices().amount_untaxed, 450.0)
        self.assertEqual(len(self._invoices(self.customer_b)), 2)
