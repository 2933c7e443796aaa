from datetime import date

from freezegun import freeze_time

from odoo.tests import tagged

from odoo.addons.psa_timesheet_billing.tests.queue_job_helpers import perform_queued_jobs

from .common import CHARGE_CHANNEL, DemoProviderCommon


@tagged("post_install", "-at_install")
class TestPaymentAttemptReport(DemoProviderCommon):
    """What PSA > Reporting > Auto-pay Attempts shows by default (month x status): Kestrel's 250 invoice is
    paid on 31 March; Osprey's 120 invoice is declined on 31 March, then on its retries of 3 and 7 April."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.osprey = cls.env["res.partner"].create(
            {"name": "Osprey Freight", "is_company": True, "email": "finance@osprey.example"}
        )
        cls._create_mandate()
        cls._create_mandate(partner=cls.osprey, token=cls._create_demo_token(cls.osprey, "error"))
        with freeze_time("2026-03-31"):
            cls.paid = cls._create_invoice(250.0, date(2026, 3, 1), due_date=date(2026, 3, 31))
            cls.declined = cls._create_invoice(120.0, date(2026, 3, 1), partner=cls.osprey, due_date=date(2026, 3, 31))
            cls.env["account.move"]._cron_charge_due_invoices(batch_size=10)
            perform_queued_jobs(cls.env, CHARGE_CHANNEL)
        for day in ("2026-04-03", "2026-04-07"):
            with freeze_time(day):
                cls.env["account.move"]._cron_charge_due_invoices(batch_size=10)
                perform_queued_jobs(cls.env, CHARGE_CHANNEL)
        cls.attempts = (cls.paid | cls.declined).psa_attempt_ids

    def test_attempts_per_month_and_status_to_the_cent(self):
        self.assertEqual(len(self.attempts), 4, "one charge, one decline and its two retries")
        report = self.env["psa.payment.attempt"].with_user(self.billing_user)
        rows = report.read_group(
            [("id", "in", self.attempts.ids)], ["amount"], ["attempt_date:month", "state"], lazy=False
        )
        figures = {(row["attempt_date:month"], row["state"]): (row["amount"], row["__count"]) for row in rows}
        self.assertEqual(
            figures,
            {
                ("March 2026", "done"): (250.0, 1),
                ("March 2026", "failed"): (120.0, 1),
                ("April 2026", "failed"): (240.0, 2),
            },
        )
        self.assertAlmostEqual(
            sum(amount for amount, _count in figures.values()), sum(self.attempts.mapped("amount")), places=2
        )
        retries = report.search_count([("id", "in", self.attempts.ids), ("number", ">", 1)])
        self.assertEqual(retries, 2)

    def test_report_action_opens_graph_first(self):
        action = self.env["ir.actions.act_window"]._for_xml_id("psa_payments.psa_payment_attempt_report_action")
        self.assertEqual(action["view_mode"].split(",")[:2], ["graph", "pivot"])
        views = (
            self.env["psa.payment.attempt"].with_user(self.billing_user).get_views([(False, "pivot"), (False, "graph")])
        )
        self.assertIn("attempt_date", views["views"]["pivot"]["arch"])
        self.assertIn("amount", views["views"]["graph"]["arch"])
