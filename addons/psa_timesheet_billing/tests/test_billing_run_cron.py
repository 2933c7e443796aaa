from datetime import date

from freezegun import freeze_time

from odoo.tests import tagged

from .billing_run_common import CronRunCommon


@tagged("post_install", "-at_install")
class TestBillingRunCron(CronRunCommon):
    @freeze_time("2026-11-02 03:00:00")
    def test_monthly_cron_creates_one_run_and_the_worker_bills_it(self):
        self.env["res.config.settings"].create({"psa_billing_run_mode": "automatic"}).execute()
        runs_model = self.env["psa.billing.run"]
        runs_model._cron_create_monthly_runs()
        runs_model._cron_create_monthly_runs()  # idempotent: a rerun creates nothing more
        runs = runs_model.search([("company_id", "=", self.env.company.id), ("period_end", "=", date(2026, 10, 31))])
        self.assertEqual(len(runs), 1)
        self.assertEqual(runs.state, "running")
        self.assertEqual(runs.invoice_date, date(2026, 11, 2))
        runs_model._cron_process_running(batch_size=10)
        self.assertIn(runs.state, ("done", "failed"))
        self.assertEqual(self.time.timesheet_invoice_id.state, "posted")
        line = runs.line_ids.filtered(lambda run_line: run_line.sale_line_id == self.order.order_line)
        self.assertEqual(line.state, "invoiced")
        self.assertAlmostEqual(line.amount, 500.0)
