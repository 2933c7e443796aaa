from datetime import date

from freezegun import freeze_time

from odoo import Command
from odoo.tests import new_test_user, tagged

from .billing_run_common import BillingRunCommon


@tagged("post_install", "-at_install")
class TestActivities(BillingRunCommon):
    """When the automation needs a person, the cron that finds it gives them one activity: time waiting
    for approval too long (the project manager), a previewed run waiting for confirmation (the finance
    lead). A rerun adds none; the activity is marked done once nothing is left to do."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.project_manager = new_test_user(
            cls.env, login="psa_act_pm", groups="project.group_project_manager,hr_timesheet.group_timesheet_manager"
        )
        cls.finance_lead = new_test_user(cls.env, login="psa_act_finance", groups="account.group_account_manager")
        cls.order = cls._create_order(cls.customer_a, [(cls.product_time, 40, 120.0)])
        cls.project = cls._create_project(cls.order.order_line)
        cls.project.user_id = cls.project_manager
        # a rule every entry fails: nothing here is approved by itself
        cls.env["psa.approval.rule"].create({"name": "At most 1 h a day", "kind": "max_hours_day", "max_hours": 1})

    def _activities(self, xmlid, records):
        return self.env["mail.activity"].search(
            [
                ("activity_type_id", "=", self.env.ref(xmlid).id),
                ("res_model", "=", records._name),
                ("res_id", "in", records.ids),
            ]
        )

    def _waiting(self):
        return self._activities("psa_timesheet_billing.mail_activity_type_psa_time_waiting", self.project)

    def test_time_waiting_too_long_gives_the_project_manager_one_activity_until_decided(self):
        entries = self._log_time(
            self.order.order_line, self.project, [(date(2026, 11, 20), 4.0), (date(2026, 11, 25), 2.0)], approve=False
        )
        approval = self.env["psa.approval.rule"]
        with freeze_time("2026-11-22"):
            approval._cron_auto_approve()
        self.assertFalse(self._waiting(), "2 days of waiting: within the 3 the setting allows")
        with freeze_time("2026-11-23"):
            approval._cron_auto_approve()
            approval._cron_auto_approve()
        activity = self._waiting()
        self.assertEqual(len(activity), 1, "a rerun gives no second activity")
        self.assertEqual(activity.user_id, self.project_manager)
        self.assertEqual(activity.summary, "1 time entry waits for approval")
        self.assertIn("4.0 h", str(activity.note))
        with freeze_time("2026-11-28"):
            approval._cron_auto_approve()
        self.assertEqual(len(self._waiting()), 1, "the same activity, its note refreshed")
        self.assertIn("2 time entries wait for approval", self._waiting().summary)
        entries.with_user(self.project_manager).action_psa_approve()
        with freeze_time("2026-11-28"):
            approval._cron_auto_approve()
        self.assertFalse(self._waiting(), "decided: the activity is marked done")
        done = self.project.message_ids.filtered(lambda m: "No time waits for approval" in str(m.body))
        self.assertTrue(done, "marked done with the reason")

    def test_reminder_days_zero_turns_the_reminder_off(self):
        self._log_time(self.order.order_line, self.project, [(date(2026, 11, 1), 4.0)], approve=False)
        self.env["ir.config_parameter"].set_param("psa_timesheet_billing.approval_reminder_days", "0")
        with freeze_time("2026-11-28"):
            self.env["psa.approval.rule"]._cron_auto_approve()
        self.assertFalse(self._waiting())

    def test_previewed_run_gives_the_finance_lead_one_activity_until_confirmed(self):
        self.env.company.psa_finance_user_id = self.finance_lead
        self._log_time(self.order.order_line, self.project, [(date(2026, 10, 15), 5.0)])
        run = self._new_run(partner_ids=[Command.set(self.customer_a.ids)])
        run.action_preview()
        runs = self.env["psa.billing.run"]
        runs._cron_process_running()
        runs._cron_process_running()
        activity = self._activities("psa_timesheet_billing.mail_activity_type_psa_run_to_confirm", run)
        self.assertEqual(len(activity), 1, "a rerun gives no second activity")
        self.assertEqual(activity.user_id, self.finance_lead)
        self.assertIn("600.00", str(activity.note))
        run.action_confirm()
        self.assertEqual(run.state, "done")
        self.assertFalse(
            self._activities("psa_timesheet_billing.mail_activity_type_psa_run_to_confirm", run),
            "confirmed: the activity is marked done at once",
        )

    def test_previewed_run_without_finance_lead_goes_to_its_creator(self):
        self.env.company.psa_finance_user_id = False
        run = self._new_run(partner_ids=[Command.set(self.customer_a.ids)])
        run.action_preview()
        self.env["psa.billing.run"]._cron_process_running()
        activity = self._activities("psa_timesheet_billing.mail_activity_type_psa_run_to_confirm", run)
        self.assertEqual(activity.user_id, self.clerk)
        run.with_user(self.clerk).action_reset_to_draft()
        self.assertFalse(self._activities("psa_timesheet_billing.mail_activity_type_psa_run_to_confirm", run))

    def test_setup_checklist_says_what_is_left_to_do(self):
        self.env.company.psa_finance_user_id = False
        settings = self.env["res.config.settings"].create({})
        self.assertTrue(settings.psa_setup_approval_rules_done, "the company has an approval rule")
        self.assertFalse(settings.psa_setup_cadence_done, "nobody confirms the runs yet")
        self.env.company.psa_finance_user_id = self.finance_lead
        self.assertTrue(self.env["res.config.settings"].create({}).psa_setup_cadence_done)
        self.env.ref("psa_timesheet_billing.ir_cron_psa_billing_run_monthly").active = False
        self.assertFalse(self.env["res.config.settings"].create({}).psa_setup_cadence_done, "its cron is off")
