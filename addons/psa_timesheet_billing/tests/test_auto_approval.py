from freezegun import freeze_time

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import PsaTimesheetCommon
from .queue_job_helpers import run_auto_approval


@tagged("post_install", "-at_install")
@freeze_time("2026-11-23")
class TestAutoApproval(PsaTimesheetCommon):
    """A manager configures rules; the hourly cron approves what passes and explains the rest."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the rules under test only: the database may hold other (demo) rules
        cls.env["psa.approval.rule"].search([]).active = False
        cls.task = cls.env["project.task"].create(
            {"name": "Firewall migration", "project_id": cls.project.id, "allocated_hours": 10.0}
        )
        cls.other_project = cls.env["project.project"].create(
            {"name": "Other engagement", "partner_id": cls.customer.id, "allow_timesheets": True}
        )
        cls.Rule = cls.env["psa.approval.rule"].with_user(cls.manager)

    def _entry(self, hours, day="2026-11-20", name="Configured the firewall", **values):
        values.setdefault("project_id", self.project.id)
        values.update({"name": name, "unit_amount": hours, "date": day})
        return self.env["account.analytic.line"].with_user(self.consultant).create(values)

    def _rule(self, kind, **values):
        values.setdefault("project_id", self.project.id)
        values.update({"name": values.pop("name", kind), "kind": kind})
        return self.Rule.create(values)

    def _run_cron(self):
        return run_auto_approval(self.env, batch_size=2)

    def test_max_hours_per_day(self):
        self._rule("max_hours_day", name="8 h/day", max_hours=8.0)
        morning, afternoon = self._entry(5.0), self._entry(4.5)
        next_day = self._entry(6.0, day="2026-11-21")
        self._run_cron()
        self.assertEqual((morning | afternoon).mapped("psa_approval_state"), ["to_approve", "to_approve"])
        self.assertEqual(
            morning.psa_approval_reason,
            "Over 8 h/day: 9.5 h on 11/20/2026 (rule 8 h/day)",
        )
        self.assertEqual(next_day.psa_approval_state, "approved")
        self.assertEqual(next_day.psa_approval_reason, "approved automatically: passes 8 h/day")
        self.assertTrue(next_day.psa_approval_date)

    def test_task_budget(self):
        self._rule("budget", name="Task budget")
        first = self._entry(6.0, day="2026-11-19", task_id=self.task.id)
        second = self._entry(5.0, task_id=self.task.id)
        no_task = self._entry(1.0)
        self._run_cron()
        self.assertEqual(first.psa_approval_state, "approved")
        self.assertEqual(second.psa_approval_state, "to_approve")
        self.assertIn("Over budget: 5 h, only 4 h left on the task", second.psa_approval_reason)
        self.assertIn("no task or order line budget", no_task.psa_approval_reason)
        # the budget grows: the next run approves what now fits
        self.task.allocated_hours = 12.0
        self._run_cron()
        self.assertEqual(second.psa_approval_state, "approved")

    def test_description_and_open_period(self):
        self._rule("description", name="Description")
        self._rule("open_period", name="Two weeks", open_days=14)
        no_description = self._entry(1.0, name="")
        too_old = self._entry(1.0, day="2026-11-01")
        fine = self._entry(1.0)
        self.env.company.sudo().sale_lock_date = "2026-10-31"
        locked = self._entry(1.0, day="2026-10-30")
        self._run_cron()
        self.assertIn(
            "No description: add one to have it approved (rule Description)", no_description.psa_approval_reason
        )
        self.assertIn("Too old: 11/01/2026 is more than 14 days ago", too_old.psa_approval_reason)
        self.assertIn("Closed period: 10/30/2026 is locked until 10/31/2026", locked.psa_approval_reason)
        self.assertEqual((no_description | too_old | locked).mapped("psa_approval_state"), ["to_approve"] * 3)
        self.assertEqual(fine.psa_approval_state, "approved")

    def test_trusted_group_and_project_scope(self):
        trusted = self.env["res.groups"].create({"name": "Trusted consultants"})
        self._rule("trusted_group", name="Trusted", group_id=trusted.id)
        entry = self._entry(2.0)
        elsewhere = self._entry(2.0, project_id=self.other_project.id)
        self._run_cron()
        self.assertIn("Not trusted: the employee is not in", entry.psa_approval_reason)
        self.assertFalse(elsewhere.psa_approval_reason, "no rule applies to the other project: left untouched")
        trusted.sudo().users = [(4, self.consultant.id)]
        self._run_cron()
        self.assertEqual(entry.psa_approval_state, "approved")
        self.assertEqual(elsewhere.psa_approval_state, "to_approve")

    def test_rerun_changes_nothing_and_manual_decisions_stay(self):
        self._rule("max_hours_day", name="8 h/day", max_hours=8.0)
        auto = self._entry(2.0)
        manual = self._entry(3.0, day="2026-11-21")
        manual.with_user(self.manager).action_psa_approve()
        rejected = self._entry(9.0, day="2026-11-22")
        rejected.with_user(self.manager).action_psa_reject("wrong project")
        self.assertEqual(self._run_cron(), 1)
        approved_on = auto.psa_approval_date
        self.assertEqual(self._run_cron(), 0)
        self.assertEqual(auto.psa_approval_date, approved_on)
        self.assertEqual(manual.psa_approved_by_id, self.manager)
        self.assertEqual(rejected.psa_approval_state, "rejected")
        self.assertEqual(rejected.psa_approval_reason, "wrong project")

    def test_rules_are_company_bound(self):
        other_company = self.env["res.company"].create({"name": "Other company"})
        self.env["psa.approval.rule"].create(
            {"name": "Elsewhere", "kind": "description", "company_id": other_company.id}
        )
        entry = self._entry(1.0, name="")
        self._run_cron()
        self.assertFalse(entry.psa_approval_reason)
        # a timesheet manager of this company does not see the other company's rules
        self.assertFalse(self.Rule.search([("name", "=", "Elsewhere")]))

    def test_consultant_cannot_configure_rules(self):
        viewer = new_test_user(self.env, login="psa_rule_viewer", groups="hr_timesheet.group_hr_timesheet_user")
        with self.assertRaises(AccessError):
            self.env["psa.approval.rule"].with_user(viewer).create({"name": "Mine", "kind": "description"})
