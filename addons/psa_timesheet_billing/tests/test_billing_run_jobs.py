from datetime import date
from unittest.mock import patch

from odoo import Command
from odoo.exceptions import UserError
from odoo.sql_db import db_connect
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import Job
from odoo.addons.queue_job.jobrunner import runner

from .billing_run_common import BillingRunCommon

BILLING_CHANNEL = "root.psa.billing"


@tagged("post_install", "-at_install")
class TestBillingRunJobs(BillingRunCommon):
    """The run's batches as stored queue jobs, performed one by one the way queue_job's controller does
    (started, performed, done or failed with its failure hook), so that two workers on one batch, a retry
    after a dead worker, a failure after the last retry and a lost job can be played in order.

    Customers A and B, one order each with approved October time; one invoice (group) per order, one group
    per batch: two batch jobs.
    """

    RUN_JOBS_NOW = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("psa_timesheet_billing.run_batch_size", "1")
        cls.orders = cls.env["sale.order"]
        for partner, hours in ((cls.customer_a, 3.0), (cls.customer_b, 2.5)):
            order = cls._create_order(partner, [(cls.product_time, 10, 100.0)])
            cls._log_time(order.order_line, cls._create_project(order.order_line), [(date(2026, 10, 7), hours)])
            cls.orders |= order
        cls.customers = cls.customer_a | cls.customer_b

    # ------------------------------------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------------------------------------
    def _jobs(self, run, method="_psa_job_bill_batch", states=None):
        domain = [("psa_billing_run_id", "=", run.id), ("method_name", "=", method)]
        if states:
            domain.append(("state", "in", states))
        return self.env["queue.job"].search(domain, order="id")

    def _perform(self, record):
        """Run one stored job as queue_job's controller does: started, performed, done."""
        job = Job.load(self.env, record.uuid)
        job.set_started()
        job.store()
        result = job.perform()
        job.set_done()
        job.store()
        self.env.flush_all()
        return result

    def _postpone(self, record, seconds):
        """The job raised RetryableJobError: queue_job's controller sets it pending again, ``seconds`` later."""
        job = Job.load(self.env, record.uuid)
        job.postpone(seconds=seconds)
        job.set_pending(reset_retry=False)
        job.store()
        record.invalidate_recordset()

    def _fail(self, record, message):
        """The job failed after its last retry: queue_job stores the failure, then calls the failure hook."""
        job = Job.load(self.env, record.uuid)
        vals = {"exc_info": message, "exc_name": "odoo.exceptions.UserError", "exc_message": message}
        job.set_failed(**vals)
        job.store()
        job.on_fail(vals)
        self.env.flush_all()

    def _billed(self):
        return self.orders.order_line.invoice_lines.move_id

    def _confirmed_run(self):
        run = self._new_run(partner_ids=[Command.set(self.customers.ids)])
        run.action_preview()
        run.action_confirm()
        return run

    # ------------------------------------------------------------------------------------------
    # tests
    # ------------------------------------------------------------------------------------------
    def test_confirm_queues_one_job_per_batch_and_the_last_one_finishes_the_run(self):
        run = self._confirmed_run()
        self.assertEqual(run.state, "running")
        self.assertFalse(self._billed(), "confirming queues the batches, a job worker bills them")
        batches = self._jobs(run)
        self.assertEqual(len(batches), 2, "one job per batch (batch size 1, two invoices)")
        self.assertEqual(set(batches.mapped("channel")), {BILLING_CHANNEL})
        self.assertEqual(len(set(batches.mapped("identity_key"))), 2)
        self.assertEqual(
            sorted(line_id for job in batches for line_id in job.args[0]),
            sorted(run.line_ids.filtered(lambda line: line.kind == "bill").ids),
            "every line to bill is in exactly one batch",
        )
        self.assertEqual((run.job_pending_count, run.job_done_count, run.job_count), (2, 0, 2))
        self.assertEqual(run.progress_done, 0)
        # the clerk (no job queue rights) sees the run's jobs counted on its form
        form = Form(run.with_user(self.clerk))
        self.assertEqual((form.job_pending_count, form.job_running_count, form.job_failed_count), (2, 0, 0))
        # the worker cron, or a second confirm, queues nothing more
        self.env["psa.billing.run"]._cron_process_running(batch_size=1)
        self.assertEqual(len(self._jobs(run)), 2)
        with self.assertRaisesRegex(UserError, "nothing to confirm"):
            run.action_confirm()

        self._perform(batches[0])
        self.assertEqual(len(self._billed()), 1)
        self.assertEqual(run.progress_done, 1)
        [finish] = self._jobs(run, "_psa_job_finish")
        with self.assertRaises(RetryableJobError, msg="the finishing job waits for the other batch"):
            self._perform(finish)
        self.assertEqual(run.state, "running")
        # queue_job's controller puts it back for its next try, seconds later
        self._postpone(finish, 2)
        self.assertTrue(finish.eta)
        # what a batch ending does after its commit: while another batch may still run, the finishing job waits
        run._psa_wake_waiting_finish("another batch")
        self.assertTrue(finish.eta, "another batch is still to run: the finishing job keeps waiting")
        self._perform(batches[1])
        self.assertEqual(self._jobs(run, "_psa_job_finish", ["pending"]), finish, "one finishing job at a time")
        self.assertTrue(finish.eta, "woken up only once the last batch is committed")
        run._psa_wake_waiting_finish(batches[1].uuid)
        self.assertFalse(finish.eta, "the last batch to end wakes the waiting finishing job up: it runs now")
        self._perform(self._jobs(run, "_psa_job_finish", ["pending"]))
        self.assertEqual(run.state, "done")
        self.assertEqual((run.progress_done, run.progress_total), (2, 2))
        self.assertEqual((run.job_done_count, run.job_failed_count), (3, 0))
        self.assertEqual(len(self._billed()), 2)
        self.assertAlmostEqual(run.amount_billed, 550.0)
        # finishing twice changes nothing
        self.assertIn("nothing to finish", run._psa_job_finish())
        self.assertEqual(len(run.message_ids.filtered(lambda m: "Run finished" in (m.body or ""))), 1)

    def test_the_batches_ramp_up_for_the_billing_channels_workers(self):
        """How many workers the run cuts its batches for: the system parameter, else queue_job's server-wide
        channels (the billing channel's capacity, or its closest configured parent's), else the database's."""
        runs = self.env["psa.billing.run"]
        params = self.env["ir.config_parameter"].sudo()
        with patch.object(runner, "_channels", return_value="root:4,root.psa.billing:3"):
            self.assertEqual(runs._psa_billing_workers(), 3)
            params.set_param("psa_timesheet_billing.run_workers", "5")
            self.assertEqual(runs._psa_billing_workers(), 5, "the system parameter comes first")
            params.set_param("psa_timesheet_billing.run_workers", "many")
            self.assertEqual(runs._psa_billing_workers(), 3, "a parameter that is no number is ignored")
            params.set_param("psa_timesheet_billing.run_workers", False)
        with patch.object(runner, "_channels", return_value="root:4,psa:2"):
            self.assertEqual(runs._psa_billing_workers(), 2, "the closest configured parent (root omitted)")
        with patch.object(runner, "_channels", return_value="root:6"):
            self.assertEqual(runs._psa_billing_workers(), 6)
        with patch.object(runner, "_channels", return_value="root:6,root.psa:0"):
            self.assertEqual(runs._psa_billing_workers(), 6, "a capacity of 0 is no limit of its own")
        channel = self.env["queue.job.channel"].search([("complete_name", "=", BILLING_CHANNEL)])
        channel.capacity = 2
        with patch.object(runner, "_channels", return_value=""):
            with patch.object(runner, "_max_capacity", return_value=1):
                self.assertEqual(runs._psa_billing_workers(), 1, "queue_job's server-wide maximum caps it")
            channel.invalidate_model(["effective_capacity"])
            with patch.object(runner, "_max_capacity", return_value=4):
                self.assertEqual(runs._psa_billing_workers(), 2, "no server-wide channels: the database's")
        with (
            patch.object(runner, "_channels", return_value="root:bogus"),
            patch.object(runner, "_max_capacity", return_value=4),
            mute_logger("odoo.addons.psa_timesheet_billing.models.psa_billing_run"),
        ):
            self.assertEqual(runs._psa_billing_workers(), 2, "channels queue_job rejects: the database's")

    def test_a_batch_run_twice_or_retried_after_a_dead_worker_bills_once(self):
        run = self._confirmed_run()
        first, second = self._jobs(run)
        # a worker dies in the middle of the first batch: its transaction is gone, nothing stays billed
        with (
            self.assertRaisesRegex(RuntimeError, "killed"),
            self.env.cr.savepoint(),
            patch.object(type(run), "_psa_after_batch", side_effect=RuntimeError("killed")),
        ):
            self._perform(first)
        self.assertFalse(self._billed())
        self.assertEqual(run.line_ids.filtered(lambda line: line.kind == "bill").mapped("state"), ["pending"] * 2)
        # queue_job requeues it; then a second worker runs the same batch again (a duplicate job)
        self._perform(first)
        self.assertIn("0 line(s) of 1", run._psa_job_bill_batch(first.args[0]), "the second run bills nothing")
        self._perform(second)
        self._perform(self._jobs(run, "_psa_job_finish", ["pending"]))
        self.assertEqual(run.state, "done")
        for sale_line in self.orders.order_line:
            self.assertEqual(len(sale_line.invoice_lines), 1, "each order line invoiced exactly once")
        self.assertAlmostEqual(sum(self._billed().mapped("amount_untaxed")), 550.0)

    def test_a_batch_claims_whole_groups_only(self):
        """One invoice per group: a batch holding only part of a group's pending lines bills none of them (the
        rest is another job's), and a line already billed is never claimed again. (Two real workers on one
        batch, where ``SKIP LOCKED`` lets the second skip what the first holds, are ``tests/``' end-to-end
        test: a second connection sees no uncommitted test data.)"""
        self._create_order(self.customer_a, [(self.product_fixed, 1, 80.0)])
        run = self._new_run(partner_ids=[Command.set(self.customer_a.ids)], grouping="customer")
        run.action_preview()
        run.action_confirm()
        group_lines = run.line_ids.filtered(lambda line: line.kind == "bill")
        self.assertEqual(len(group_lines), 2, "customer A's time and fee, one invoice")
        self.assertFalse(run._psa_claim_lines(group_lines[:1].ids), "never half an invoice")
        self.assertEqual(run._psa_claim_lines(group_lines.ids), group_lines)
        self._perform(self._jobs(run))
        self.assertEqual(set(group_lines.mapped("state")), {"invoiced"})
        self.assertFalse(run._psa_claim_lines(group_lines.ids), "what is billed is never claimed again")

    def test_a_conflict_on_a_locked_row_is_retried_not_a_failed_line(self):
        """Another transaction holds a row the batch needs (the journal's numbering, here the journal row
        itself, locked by a real second connection): the job is retried later, no line fails."""
        run = self._confirmed_run()
        first = self._jobs(run)[0]
        journal = self.env["account.journal"].search(
            [("type", "=", "sale"), ("company_id", "=", self.env.company.id)], limit=1
        )
        other = db_connect(self.env.cr.dbname).cursor()
        try:
            other.execute("SELECT id FROM account_journal WHERE id = %s FOR UPDATE", [journal.id])

            def numbering(_run, _plans):
                self.env.cr.execute("SELECT id FROM account_journal WHERE id = %s FOR UPDATE NOWAIT", [journal.id])

            with (
                patch.object(type(run), "_psa_invoice_plans", autospec=True, side_effect=numbering),
                mute_logger("odoo.sql_db"),
                self.assertRaisesRegex(RetryableJobError, "concurrent update, retried"),
            ):
                self._perform(first)
        finally:
            other.rollback()
            other.close()
        self.assertFalse(run.line_ids.filtered(lambda line: line.state == "failed"), "a conflict fails no line")
        self._perform(first)
        self.assertEqual(len(self._billed()), 1)

    def test_a_batch_failing_after_its_last_retry_marks_its_lines_failed_then_retry_bills_them(self):
        run = self._confirmed_run()
        first, second = self._jobs(run)
        self._perform(second)
        self._fail(first, "numbering of journal INV locked for too long")
        failed = run.line_ids.filtered(lambda line: line.state == "failed")
        self.assertEqual(failed.ids, first.args[0])
        self.assertIn("billing job failed: numbering of journal INV locked for too long", failed.skip_reason)
        self._perform(self._jobs(run, "_psa_job_finish", ["pending"]))
        self.assertEqual(run.state, "failed")
        self.assertEqual((run.job_failed_count, run.failed_count), (1, 1))
        self.assertEqual(len(self._billed()), 1)

        run.with_user(self.clerk).action_psa_retry_failed_batches()
        self.assertEqual(first.state, "cancelled", "the failed job is closed as retried")
        self.assertEqual(run.state, "running")
        [retry] = self._jobs(run, states=["pending"])
        self.assertEqual(retry.args[0], failed.ids)
        self._perform(retry)
        self._perform(self._jobs(run, "_psa_job_finish", ["pending"]))
        self.assertEqual(run.state, "done")
        self.assertEqual(len(self._billed()), 2)
        for sale_line in self.orders.order_line:
            self.assertEqual(len(sale_line.invoice_lines), 1)
        with self.assertRaisesRegex(UserError, "no failed batch"):
            run.action_psa_retry_failed_batches()

    def test_cron_requeues_a_lost_batch_and_finishes_a_run_whose_job_died(self):
        run = self._confirmed_run()
        first, second = self._jobs(run)
        # a job deleted by hand (or vacuumed) before it ran: the cron queues its lines again
        first.unlink()
        self.env["psa.billing.run"]._cron_process_running(batch_size=1)
        self.assertEqual(len(self._jobs(run, states=["pending"])), 1, "a job still to run: the run is left to it")
        self._perform(second)
        self.env["psa.billing.run"]._cron_process_running(batch_size=1)
        [requeued] = self._jobs(run, states=["pending"])
        self.assertNotIn(requeued.args[0][0], second.args[0])
        # found dead after its last retry (queue_job's runner, in SQL: no failure hook): the cron finishes the
        # run and says why the line was not billed
        requeued.sudo().with_context(_job_edit_sentinel=self.env["queue.job"].EDIT_SENTINEL).write(
            {"state": "failed", "exc_name": "JobFoundDead", "exc_info": "Job found dead after too many retries"}
        )
        self.env["psa.billing.run"]._cron_process_running(batch_size=1)
        self._perform(self._jobs(run, "_psa_job_finish", ["pending"]))
        self.assertEqual(run.state, "failed")
        failed = run.line_ids.filtered(lambda line: line.state == "failed")
        self.assertEqual(failed.ids, requeued.args[0])
        self.assertIn("JobFoundDead", failed.skip_reason)
        self.assertEqual(len(self._billed()), 1)
