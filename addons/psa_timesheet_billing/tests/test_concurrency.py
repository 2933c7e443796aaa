"""Two transactions at once on committed rows: a line is approved, and drawn from a fund, exactly once.

The usual test transaction is invisible to a second connection, so these tests commit their own small
data set through separate cursors of the registry (this class does not enter Odoo's test mode, so
``registry.cursor()`` opens real connections) and delete it again in a cleanup that runs even when a
test fails. The waits are real: a helper watches ``pg_stat_activity`` until the other connection is
blocked on a lock before the first one commits. ``lock_timeout`` keeps a bug from hanging the run.

Odoo's transactions are REPEATABLE READ: the one that waited fails with a serialization error once the
first commits, and is retried as Odoo retries a request (``odoo.service.model.retrying``) or as the next
run of a job would; the tests check what the retry finds. (The retry loop below is Odoo's
``odoo.service.model.retrying`` without its registry reset, which in a thread would wait for the registry
lock the test runner holds.)
"""

import threading
import time

from psycopg2.errors import SerializationFailure

from odoo import SUPERUSER_ID, api, fields
from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestConcurrentApproval(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.approver_id = cls.env.ref("base.user_admin").id

    def setUp(self):
        super().setUp()
        self.ids = {}
        self.addCleanup(self._delete_committed_data)
        with self._cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            customer = env["res.partner"].create({"name": "PSA race customer", "is_company": True})
            project = env["project.project"].create(
                {"name": "PSA race engagement", "partner_id": customer.id, "allow_timesheets": True}
            )
            employee = env["hr.employee"].create({"name": "PSA race consultant"})
            rule = env["psa.approval.rule"].create(
                {"name": "PSA race: description", "kind": "description", "project_id": project.id}
            )
            lines = env["account.analytic.line"].create(
                [
                    {
                        "project_id": project.id,
                        "employee_id": employee.id,
                        "name": f"Race work {index}",
                        "unit_amount": 1.0,
                        "date": fields.Date.context_today(env["res.partner"]),
                    }
                    for index in range(6)
                ]
            )
            self.ids.update(
                customer=customer.id,
                project=project.id,
                account=project.account_id.id,
                employee=employee.id,
                employee_contact=employee.work_contact_id.id,
                rule=rule.id,
                lines=lines.ids,
                company=env.company.id,
                funds=[],
            )

    # ------------------------------------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------------------------------------
    def _cursor(self):
        cr = self.registry.cursor()
        cr.execute("SET lock_timeout = '20s'")
        return cr

    def _env(self, cr, uid=None):
        return api.Environment(cr, uid or self.approver_id, {})

    def _open_fund(self, hours):
        with self._cursor() as cr:
            fund = self._env(cr, SUPERUSER_ID)["psa.prepaid.fund"].create(
                {"name": "PSA race fund", "partner_id": self.ids["customer"], "initial_quantity": hours}
            )
            self.ids["funds"].append(fund.id)
            return fund.id

    def _wait_until_blocked(self, pid):
        """Return once the backend ``pid`` waits for a lock (the race is really on)."""
        with self.registry.cursor() as cr:
            for _attempt in range(200):
                # the statistics are a snapshot per transaction unless cleared
                cr.execute("SELECT pg_stat_clear_snapshot()")
                cr.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,))
                row = cr.fetchone()
                if row and row[0] == "Lock":
                    return
                time.sleep(0.05)
        self.fail("the second transaction never waited for the first one's lock")

    def _in_thread(self, function, uid=None, retry=False):
        """Run ``function(env)`` on its own connection in a thread; return (thread, result dict).

        The environment is built here: building one in the thread would wait for the registry lock the
        test runner holds. ``retry``: retried on serialization errors as Odoo retries a request.
        """

        def call(env):
            for attempt in range(5 if retry else 1):
                try:
                    value = function(env)
                    env.cr.flush()
                    return value
                except SerializationFailure:
                    if not retry or attempt == 4:
                        raise
                    env.cr.rollback()
                    result["retries"] = result.get("retries", 0) + 1

        result = {}
        cr = self._cursor()
        cr.execute("SELECT pg_backend_pid()")
        result["pid"] = cr.fetchone()[0]
        env = self._env(cr, uid)

        def target():
            try:
                with cr:
                    result["value"] = call(env)
            except Exception as error:  # noqa: BLE001 - reported to the test thread
                result["error"] = error

        thread = threading.Thread(target=target, name="psa-race")
        thread.start()
        return thread, result

    def _state(self):
        """What a user would read afterwards, from a fresh connection."""
        with self.registry.cursor() as cr:
            env = self._env(cr, SUPERUSER_ID)
            lines = env["account.analytic.line"].browse(self.ids["lines"])
            funds = env["psa.prepaid.fund"].browse(self.ids["funds"])
            return {
                "states": lines.mapped("psa_approval_state"),
                "reasons": lines.mapped("psa_approval_reason"),
                "drawn": env["psa.prepaid.drawdown"].search_count([("timesheet_id", "in", lines.ids)]),
                "consumed": sum(funds.mapped("consumed_quantity")),
                "overage": sum(funds.mapped("overage_quantity")),
                "remaining": sum(funds.mapped("remaining_quantity")),
            }

    def _delete_committed_data(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            line_ids = self.ids.get("lines") or []
            cr.execute("DELETE FROM psa_prepaid_drawdown WHERE timesheet_id = ANY(%s)", (line_ids,))
            # approved time refuses deletion by design: remove the test rows directly
            cr.execute("DELETE FROM account_analytic_line WHERE id = ANY(%s)", (line_ids,))
            env.invalidate_all()
            env["psa.prepaid.fund"].browse(self.ids.get("funds") or []).exists().unlink()
            env["psa.approval.rule"].browse(self.ids.get("rule")).exists().unlink()
            env["project.project"].browse(self.ids.get("project")).exists().unlink()
            env["account.analytic.account"].browse(self.ids.get("account")).exists().unlink()
            env["hr.employee"].browse(self.ids.get("employee")).exists().unlink()
            env["res.partner"].browse([self.ids.get("customer"), self.ids.get("employee_contact")]).exists().unlink()

    def _run_approval_job(self, env_or_cr):
        env = env_or_cr if isinstance(env_or_cr, api.Environment) else self._env(env_or_cr, SUPERUSER_ID)
        env = env(user=SUPERUSER_ID)
        rule = env["psa.approval.rule"].browse(self.ids["rule"])
        # one approval job (a chunk of the hourly run) on the six lines
        return rule._psa_auto_approve_chunk(env["res.company"].browse(self.ids["company"]), self.ids["lines"])[0]

    # ------------------------------------------------------------------------------------------
    # races
    # ------------------------------------------------------------------------------------------
    def test_person_and_job_at_once_each_line_once(self):
        """A manager approves two lines (not committed yet) while the hourly job runs on all six."""
        self._open_fund(10.0)
        person_cr = self._cursor()
        try:
            person = self._env(person_cr)["account.analytic.line"].browse(self.ids["lines"][:2])
            person.action_psa_approve()
            # the job skips the two locked lines, approves the others, then waits for the fund
            job, result = self._in_thread(self._run_approval_job)
            self._wait_until_blocked(result["pid"])
            person_cr.commit()
        finally:
            person_cr.close()
        job.join(30)
        # it cannot spend the balance it read before the manager's draw: it fails and keeps nothing
        self.assertIsInstance(result.get("error"), SerializationFailure)
        self.assertEqual(self._state()["drawn"], 2)
        with self._cursor() as cr:
            self.assertEqual(self._run_approval_job(cr), 4, "the next run approves the four other lines")
        state = self._state()
        self.assertEqual(state["states"], ["approved"] * 6)
        self.assertEqual(state["reasons"][:2], ["approved by Mitchell Admin"] * 2)
        self.assertTrue(all(reason.startswith("approved automatically") for reason in state["reasons"][2:]))
        self.assertEqual(state["drawn"], 6, "one draw-down per line")
        self.assertEqual(state["consumed"], 6.0)
        self.assertEqual(state["remaining"], 4.0)

    def test_person_waits_for_the_job_and_sees_its_decision(self):
        """The job holds the lines; the manager's click waits, is retried, and is refused instead of
        overwriting the job's decision."""
        self._open_fund(10.0)
        job_cr = self._cursor()
        try:
            self.assertEqual(self._run_approval_job(job_cr), 6)

            def approve_first_line(env):
                return env["account.analytic.line"].browse(self.ids["lines"][:1]).action_psa_approve()

            person, result = self._in_thread(approve_first_line, retry=True)
            self._wait_until_blocked(result["pid"])
            job_cr.commit()
        finally:
            job_cr.close()
        person.join(30)
        self.assertEqual(result.get("retries"), 1, "the click was retried once, as Odoo retries a request")
        self.assertIsInstance(result.get("error"), UserError)
        self.assertIn("already approved", str(result["error"]))
        state = self._state()
        self.assertTrue(state["reasons"][0].startswith("approved automatically"), "the job's reason stays")
        self.assertEqual(state["drawn"], 6)
        self.assertEqual(state["consumed"], 6.0)

    def test_two_draws_on_one_fund_never_spend_the_balance_twice(self):
        """Two transactions draw different time from a 4 h fund at once: the overage is counted once."""
        with self._cursor() as cr:
            self._env(cr)["account.analytic.line"].browse(self.ids["lines"][:5]).action_psa_approve()
        fund_id = self._open_fund(4.0)
        first_cr = self._cursor()
        try:
            funds = self._env(first_cr, SUPERUSER_ID)["psa.prepaid.fund"]
            funds._psa_draw_for_timesheets(funds.env["account.analytic.line"].browse(self.ids["lines"][:3]))

            def draw_two_more(env):
                lines = env["account.analytic.line"].browse(self.ids["lines"][3:5])
                return env["psa.prepaid.fund"]._psa_draw_for_timesheets(lines)

            second, result = self._in_thread(draw_two_more, uid=SUPERUSER_ID, retry=True)
            self._wait_until_blocked(result["pid"])
            first_cr.commit()
        finally:
            first_cr.close()
        second.join(30)
        self.assertNotIn("error", result)
        state = self._state()
        self.assertEqual(state["drawn"], 5)
        self.assertEqual(state["consumed"], 5.0)
        self.assertEqual(state["overage"], 1.0, "4 h prepaid, 5 h drawn: 1 h overage, not 0 h")
        self.assertEqual(state["remaining"], 0.0)
        self.assertEqual(result.get("retries"), 1, "it waited for the fund, failed to serialize, and was retried")
        with self.registry.cursor() as cr:
            self.assertEqual(self._env(cr, SUPERUSER_ID)["psa.prepaid.fund"].browse(fund_id).state, "exhausted")

    def test_two_jobs_at_once_the_second_steps_aside(self):
        first_cr = self._cursor()
        try:
            self.assertEqual(self._run_approval_job(first_cr), 6)
            with self._cursor() as second_cr:
                self.assertEqual(self._run_approval_job(second_cr), 0, "the first job holds the lines")
            first_cr.commit()
        finally:
            first_cr.close()
        with self._cursor() as cr:
            self.assertEqual(self._run_approval_job(cr), 0, "a rerun finds nothing left")
        self.assertEqual(self._state()["states"], ["approved"] * 6)
