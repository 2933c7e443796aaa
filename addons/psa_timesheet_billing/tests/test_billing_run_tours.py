import os
from datetime import date
from unittest.mock import patch

from odoo import Command
from odoo.tests import HttpCase, tagged

from .billing_run_common import BillingRunCommon


@tagged("post_install", "-at_install")
class TestBillingRunTours(BillingRunCommon, HttpCase):
    """A finance lead (Invoicing user + Sales "all documents", nothing more) previews a billing run, confirms
    it, opens an invoice of the run and reads why a line was billed, on a desk and on a phone."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer_a.name = "Tour Fabrikam"
        cls.order = cls._create_order(cls.customer_a, [(cls.product_time, 20, 100.0)])
        cls.project = cls._create_project(cls.order.order_line)
        cls._log_time(cls.order.order_line, cls.project, [(date(2026, 10, 14), 2.0), (date(2026, 10, 15), 3.0)])
        cls.tour_run = (
            cls.env["psa.billing.run"]
            .with_user(cls.clerk)
            .create(
                {
                    "name": "Tour: October time",
                    "period_end": cls.PERIOD_END,
                    "invoice_date": cls.INVOICE_DATE,
                    "partner_ids": [Command.set(cls.customer_a.ids)],
                }
            )
        )

    def _assert_billed(self):
        self.assertEqual(self.tour_run.state, "done")
        invoice = self.tour_run.invoice_ids
        self.assertEqual(invoice.partner_id, self.customer_a)
        self.assertAlmostEqual(invoice.amount_untaxed, 500.0)
        self.assertIn("2 approved time entries", invoice.invoice_line_ids.psa_billing_explanation)

    def start_tour(self, url_path, tour_name, **kwargs):
        # No job runner serves a browser test: the run's batch jobs run at once inside the confirm request
        # (queue_job's QUEUE_JOB__NO_DELAY), as one job worker would run them; TestBillingRunJobs tests the jobs.
        with patch.dict(os.environ, {"QUEUE_JOB__NO_DELAY": "1"}):
            return super().start_tour(url_path, tour_name, **kwargs)

    def test_finance_lead_desktop(self):
        self.start_tour("/odoo", "psa_billing_run_desktop", login=self.clerk.login)
        self._assert_billed()

    def test_finance_lead_mobile(self):
        self.browser_size = "390x844"
        self.touch_enabled = True
        self.start_tour(
            "/odoo/action-psa_timesheet_billing.action_psa_billing_run",
            "psa_billing_run_mobile",
            login=self.clerk.login,
        )
        self._assert_billed()
