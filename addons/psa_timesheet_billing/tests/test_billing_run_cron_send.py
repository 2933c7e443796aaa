from datetime import date

from freezegun import freeze_time

from odoo.tests import Form, tagged

from .billing_run_common import CronRunCommon


@tagged("post_install", "-at_install")
class TestBillingRunCronSend(CronRunCommon):
    """The weekly and monthly crons create fully automatic runs; whether those runs send the invoices
    they post by email is the company's *Send invoices of automatic runs* setting (off by default)."""

    def _configure(self, send, frequency="monthly"):
        with Form(self.env["res.config.settings"]) as settings:
            settings.psa_billing_run_mode = "automatic"
            settings.psa_billing_run_frequency = frequency
            settings.psa_billing_run_send_invoices = send
        settings.save().execute()

    def _cron_run(self, cron_method, period_end):
        runs = self.env["psa.billing.run"]
        getattr(runs, cron_method)()
        run = runs.search([("company_id", "=", self.env.company.id), ("period_end", "=", period_end)])
        self.assertEqual(len(run), 1)
        runs._cron_process_running(batch_size=10)
        invoice = self.time.timesheet_invoice_id
        self.assertEqual(invoice.state, "posted", "posted as automatic runs always were")
        self.assertIn(invoice, run.invoice_ids)
        return run, invoice

    def test_setting_is_off_by_default(self):
        self.assertFalse(self.env["res.company"].create({"name": "New PSA company"}).psa_billing_run_send_invoices)

    @freeze_time("2026-11-02 03:00:00")
    def test_monthly_cron_run_sends_when_the_company_says_so(self):
        self._configure(send=True)
        run, invoice = self._cron_run("_cron_create_monthly_runs", date(2026, 10, 31))
        self.assertTrue(run.send_invoices)
        self.assertTrue(invoice.is_being_sent, "queued for Odoo's sending job")
        self.assertEqual(set(run.invoice_ids.mapped("is_being_sent")), {True})
        self.assertTrue(any("invoices sent by email" in body for body in run.message_ids.mapped("body")))

    @freeze_time("2026-11-02 03:00:00")
    def test_monthly_cron_run_does_not_send_without_the_setting(self):
        self._configure(send=False)
        run, invoice = self._cron_run("_cron_create_monthly_runs", date(2026, 10, 31))
        self.assertFalse(run.send_invoices)
        self.assertEqual(set(run.invoice_ids.mapped("is_being_sent")), {False})

    @freeze_time("2026-11-03 03:00:00")
    def test_weekly_cron_run_sends_when_the_company_says_so(self):
        self._configure(send=True, frequency="weekly")
        run, invoice = self._cron_run("_cron_create_weekly_runs", date(2026, 11, 1))
        self.assertTrue(run.send_invoices)
        self.assertEqual(set(run.invoice_ids.mapped("is_being_sent")), {True})
