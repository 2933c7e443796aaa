from unittest.mock import patch

from freezegun import freeze_time

from odoo.tests import BaseCase, tagged

from ..models import account_analytic_line
from ..tools import approval_rules as ar
from .common import PsaTimesheetCommon
from .queue_job_helpers import perform_job, queued_jobs

APPROVAL_CHANNEL = "root.psa.approval"


@tagged("post_install", "-at_install")
class TestApprovalChunksPure(BaseCase):
    """Chunks never split the entries that spend one task or order line budget."""

    def test_entries_sharing_a_budget_stay_together_in_order(self):
        rows = [(1, 10, None), (2, None, None), (3, 10, None), (4, None, None), (5, None, None)]
        self.assertEqual(ar.chunk_by_budget(rows, 2), [[1, 3], [2, 4], [5]])

    def test_an_entry_on_a_task_and_an_order_line_joins_both(self):
        # task 10 and order line 70 are linked by entry 3: entries 1, 3 and 4 spend budgets that overlap
        rows = [(1, 10, None), (2, 11, None), (3, 10, 70), (4, None, 70)]
        self.assertEqual(ar.chunk_by_budget(rows, 2), [[1, 3, 4], [2]])

    def test_a_group_larger_than_a_chunk_is_one_chunk(self):
        rows = [(i, 10, None) for i in range(1, 6)] + [(6, None, None)]
        self.assertEqual(ar.chunk_by_budget(rows, 2), [[1, 2, 3, 4, 5], [6]])

    def test_identity_depends_on_company_and_entries_not_order(self):
        self.assertEqual(ar.chunk_identity(1, [3, 1, 2]), ar.chunk_identity(1, [1, 2, 3]))
        self.assertNotEqual(ar.chunk_identity(1, [1, 2, 3]), ar.chunk_identity(2, [1, 2, 3]))
        self.assertNotEqual(ar.chunk_identity(1, [1, 2, 3]), ar.chunk_identity(1, [1, 2]))


@tagged("post_install", "-at_install")
@freeze_time("2026-11-23")
class TestAutoApprovalJobs(PsaTimesheetCommon):
    """The hourly cron enqueues chunks on root.psa.approval; a chunk decided twice decides once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["psa.approval.rule"].search([]).active = False
        cls.task = cls.env["project.task"].create(
            {"name": "Firewall migration", "project_id": cls.project.id, "allocated_hours": 10.0}
        )

    def _entry(self, hours, day="2026-11-20", name="Configured the firewall", **values):
        values.setdefault("project_id", self.project.id)
        values.update({"name": name, "unit_amount": hours, "date": day})
        return self.env["account.analytic.line"].with_user(self.consultant).create(values)

    def _rule(self, kind, **values):
        values.update({"name": values.pop("name", kind), "kind": kind, "project_id": self.project.id})
        return self.env["psa.approval.rule"].create(values)

    def _jobs(self, states=("pending",)):
        return queued_jobs(self.env, APPROVAL_CHANNEL, states=states)

    def test_cron_enqueues_chunks_once(self):
        self._rule("description", name="Description")
        entries = self.env["account.analytic.line"].concat(*(self._entry(1.0) for _i in range(5)))
        self.assertEqual(self.env["psa.approval.rule"]._cron_auto_approve(batch_size=2), 5)
        jobs = self._jobs()
        self.assertEqual(len(jobs), 3, "5 entries in chunks of 2")
        self.assertEqual(set(entries.mapped("psa_approval_state")), {"to_approve"}, "decided by the jobs")
        self.assertEqual(self.env["psa.approval.rule"]._cron_auto_approve(batch_size=2), 0, "a rerun adds nothing")
        self.assertEqual(self._jobs(), jobs)
        for job in jobs:
            perform_job(self.env, job)
        self.assertEqual(set(entries.mapped("psa_approval_state")), {"approved"})
        self.assertEqual(self.env["psa.approval.rule"]._cron_auto_approve(batch_size=2), 0, "nothing left")

    def test_chunk_performed_twice_approves_once_with_the_same_reasons(self):
        self._rule("budget", name="Task budget")
        first = self._entry(6.0, day="2026-11-19", task_id=self.task.id)
        second = self._entry(5.0, task_id=self.task.id)
        no_task = self._entry(1.0)
        self.env["psa.approval.rule"]._cron_auto_approve(batch_size=1)
        jobs = self._jobs()
        self.assertEqual(len(jobs), 2, "the two entries of the task are one chunk")
        # two workers may take the chunks in any order
        for job in jobs.sorted("id", reverse=True):
            perform_job(self.env, job)
        decided = [(line.psa_approval_state, line.psa_approval_reason) for line in (first, second, no_task)]
        self.assertEqual(first.psa_approval_state, "approved")
        self.assertIn("only 4 h left on the task", second.psa_approval_reason)
        self.assertIn("no task or order line budget", no_task.psa_approval_reason)
        approved_at = first.psa_approval_date
        results = [perform_job(self.env, job) for job in jobs]
        self.assertTrue(all(result.startswith("0 approved") for result in results), results)
        self.assertEqual(
            [(line.psa_approval_state, line.psa_approval_reason) for line in (first, second, no_task)], decided
        )
        self.assertEqual(first.psa_approval_date, approved_at)

    def test_check_rules_on_a_large_selection_runs_as_jobs(self):
        self._rule("max_hours_day", name="8 h/day", max_hours=8.0)
        small = self._entry(2.0, day="2026-11-17")
        large = self.env["account.analytic.line"].concat(*(self._entry(1.0, day="2026-11-18") for _i in range(3)))
        as_manager = self.env["account.analytic.line"].with_user(self.manager)
        with patch.object(account_analytic_line, "CHECK_RULES_SYNC_LIMIT", 2):
            as_manager.browse(small.ids).action_psa_check_rules()
            self.assertEqual(small.psa_approval_state, "approved", "a small selection is decided at once")
            self.assertFalse(self._jobs())
            answer = as_manager.browse(large.ids).action_psa_check_rules()
        self.assertIn("3 entries are being checked in the background", answer["params"]["message"])
        self.assertEqual(set(large.mapped("psa_approval_state")), {"to_approve"})
        jobs = self._jobs()
        self.assertEqual(len(jobs), 2, "in chunks of the limit")
        for job in jobs:
            perform_job(self.env, job)
        self.assertEqual(set(large.mapped("psa_approval_state")), {"approved"})
        self.assertEqual(set(large.mapped("psa_approval_reason")), {"approved automatically: passes 8 h/day"})
