from datetime import date

from freezegun import freeze_time

from odoo.tests import new_test_user, tagged

from .billing_run_common import BillingRunCommon


@tagged("post_install", "-at_install")
class TestServerActions(BillingRunCommon):
    """The automation a person triggers on a selection from the Action menu does what the cron does, for the
    selection only, and leaves the same reasons."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.project_manager = new_test_user(
            cls.env, login="psa_sa_pm", groups="project.group_project_manager,sales_team.group_sale_salesman"
        )
        cls.order_a = cls._create_order(cls.customer_a, [(cls.product_time, 40, 120.0)])
        cls.project_a = cls._create_project(cls.order_a.order_line)
        cls._log_time(cls.order_a.order_line, cls.project_a, [(date(2026, 10, 15), 5.0)])
        cls.order_b = cls._create_order(cls.customer_b, [(cls.product_fixed, 1, 500.0)])

    def test_bill_now_runs_for_the_selected_customers_only(self):
        with freeze_time("2026-11-02"):
            action = self.customer_a.with_user(self.clerk).action_psa_bill_now()
        run = self.env["psa.billing.run"].browse(action["res_id"])
        self.assertEqual(action["res_model"], "psa.billing.run")
        self.assertEqual(run.partner_ids, self.customer_a)
        self.assertEqual(run.state, "previewed", "the company's runs are preview-first: the person confirms")
        self.assertEqual(str(run.period_end), "2026-11-02")
        self.assertEqual(set(run.line_ids.partner_id.ids), {self.customer_a.id}, "customer B is not in the run")
        self.assertAlmostEqual(run.amount_to_bill, 600.0)
        self.assertIn("Bill now", run.message_ids[-1].body)

    def test_bill_now_fully_automatic_invoices_at_once_and_explains_skips(self):
        self.env["ir.config_parameter"].set_param("psa_timesheet_billing.monthly_run_mode", "automatic")
        self.customer_b.write({"psa_billing_hold": True, "psa_billing_hold_reason": "disputed invoice"})
        with freeze_time("2026-11-02"):
            action = (self.customer_a | self.customer_b).with_user(self.clerk).action_psa_bill_now()
        run = self.env["psa.billing.run"].browse(action["res_id"])
        self.assertEqual(run.state, "done")
        self.assertEqual(run.invoice_ids.partner_id, self.customer_a)
        held = run.line_ids.filtered(lambda line: line.partner_id == self.customer_b)
        self.assertEqual(held.mapped("skip_reason"), ["customer on hold: disputed invoice"], "the cron's reason")


@tagged("post_install", "-at_install")
class TestReleaseDueMilestones(BillingRunCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.project_manager = new_test_user(
            cls.env, login="psa_sa_pm2", groups="project.group_project_manager,sales_team.group_sale_salesman"
        )
        product = cls.env["product.product"].create(
            {"name": "Rollout (milestones)", "type": "service", "service_type": "milestones", "list_price": 9000.0}
        )
        order = cls._create_order(cls.customer_a, [(product, 1, 9000.0)])
        cls.line = order.order_line
        project = cls._create_project(cls.line)
        project.allow_milestones = True
        milestones = cls.env["project.milestone"].with_user(cls.project_manager)
        values = {"project_id": project.id, "sale_line_id": cls.line.id, "psa_auto_release": True}
        cls.due = milestones.create({**values, "name": "Design", "deadline": "2026-11-20", "quantity_percentage": 0.3})
        cls.later = milestones.create(
            {**values, "name": "Go-live", "deadline": "2026-12-15", "quantity_percentage": 0.7}
        )

    def test_release_due_now_releases_what_the_job_would_and_says_why_not_the_rest(self):
        with freeze_time("2026-11-21"):
            answer = (self.due | self.later).with_user(self.project_manager).action_psa_release_due()
        self.assertTrue(self.due.is_reached)
        self.assertFalse(self.later.is_reached)
        self.assertEqual(self.due.psa_release_reason, "reached automatically on 11/21/2026: planned for 11/20/2026")
        self.assertIn("Go-live: not released, planned for 12/15/2026", answer["params"]["message"])
        self.assertEqual(answer["params"]["title"], "1 of 2 milestones released")
        self.assertAlmostEqual(self.line.qty_delivered, 0.3)
        with freeze_time("2026-11-21"):
            again = self.due.with_user(self.project_manager).action_psa_release_due()
        self.assertIn("already reached", again["params"]["message"])
