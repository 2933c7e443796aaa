from datetime import date, datetime, timedelta
from unittest.mock import patch

from freezegun import freeze_time
from psycopg2.errors import SerializationFailure

from odoo.tests import tagged

from odoo.addons.psa_timesheet_billing.tests.queue_job_helpers import perform_job, queued_jobs

from .common import CHARGE_CHANNEL, LocalStripeCommon


class WorkerDiedError(Exception):
    """Stands for a worker killed after the charge left: its transaction is rolled back."""


@tagged("post_install", "-at_install")
class TestChargeJobs(LocalStripeCommon):
    """The cron opens the attempts and enqueues one job per charge on root.psa.payments; a job run twice, or
    again after its worker died mid-charge, charges once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mandate = cls._create_mandate()

    def _due_invoices(self, *amounts):
        return self.env["account.move"].concat(
            *(self._create_invoice(amount, date(2026, 3, 1), due_date=date(2026, 3, 31)) for amount in amounts)
        )

    def test_cron_enqueues_one_charge_job_per_attempt(self):
        with freeze_time("2026-03-31"):
            invoices = self._due_invoices(40.0, 60.0)
            created = self._localstripe_stats()["created"]
            self.assertEqual(self.env["account.move"]._cron_charge_due_invoices(batch_size=1), 2)
            attempts = invoices.psa_attempt_ids
            jobs = queued_jobs(self.env, CHARGE_CHANNEL)
            self.assertEqual(sorted(jobs.mapped("identity_key")), sorted(attempts.mapped("idempotency_key")))
            self.assertEqual(set(jobs.mapped("method_name")), {"_psa_job_charge"})
            self.assertEqual(set(attempts.mapped("state")), {"pending"}, "nothing is charged by the cron itself")
            self.assertEqual(set(attempts.transaction_id.mapped("state")), {"draft"})
            self.assertEqual(self._localstripe_stats()["created"], created)
            for job in jobs:
                perform_job(self.env, job)
        self.assertEqual(set(attempts.mapped("state")), {"done"})
        self.assertEqual(self._localstripe_stats()["created"], created + 2)
        self.assertTrue(all(self._paid(invoice) for invoice in invoices))

    def test_chunk_in_conflict_is_rolled_back_and_tried_again(self):
        """A chunk that meets another transaction (here: its first try opens its attempt, transaction and job,
        then fails as a serialization failure at flush would) is rolled back whole and tried again after the
        other chunks: every invoice gets one attempt and one job, none is left to the next run."""
        move_class = type(self.env["account.move"])
        original = move_class._psa_charge_later
        tries = []

        def charge_later(moves, mandates):
            tries.append(moves.ids)
            opened = original(moves, mandates)
            if len(tries) == 1:
                raise SerializationFailure("could not serialize access due to concurrent update")
            return opened

        with freeze_time("2026-03-31"):
            invoices = self._due_invoices(30.0, 50.0, 70.0)
            with patch.object(move_class, "_psa_charge_later", charge_later):
                opened = self.env["account.move"]._cron_charge_due_invoices(batch_size=1)
        self.assertEqual(opened, 3)
        self.assertEqual(len(tries), 4, "three chunks, the first one tried again last")
        self.assertEqual(tries[0], tries[-1])
        for invoice in invoices:
            self.assertEqual(len(invoice.psa_attempt_ids), 1, "the rolled-back attempt is gone, one remains")
            self.assertEqual(invoice.psa_attempt_ids.number, 1)
            self.assertEqual(len(invoice.psa_attempt_ids.transaction_id), 1)
        keys = sorted(queued_jobs(self.env, CHARGE_CHANNEL).mapped("identity_key"))
        self.assertEqual(keys, sorted(invoices.psa_attempt_ids.mapped("idempotency_key")), "one job per attempt")

    def test_settled_payment_method_line_is_not_written_again(self):
        """Each cron chunk settles its providers' payment method line: once it is there, nothing is written (two
        runs writing that one row at once made one of them fail at its commit)."""
        self.provider._psa_settle_payment_method_line()
        line_class = type(self.env["account.payment.method.line"])
        with patch.object(line_class, "write", autospec=True, side_effect=line_class.write) as write:
            self.provider._psa_settle_payment_method_line()
        self.assertFalse(write.called)
        self.assertTrue(
            self.env["account.payment.method.line"].search_count(
                [("payment_provider_id", "=", self.provider.id), ("journal_id", "=", self.provider.journal_id.id)]
            )
        )

    def test_enqueue_twice_makes_one_job(self):
        with freeze_time("2026-03-31"):
            invoice = self._due_invoices(45.0)
            attempt = invoice._psa_open_attempts(self.mandate)
            attempt._psa_create_transactions()
            attempt._psa_enqueue_charges()
            attempt._psa_enqueue_charges()
            self.env["account.move"]._cron_charge_due_invoices()
        jobs = self.env["queue.job"].search([("identity_key", "=", attempt.idempotency_key)])
        self.assertEqual(len(jobs), 1)
        self.assertEqual(jobs.channel, CHARGE_CHANNEL)
        self.assertEqual(jobs.state, "pending")
        self.assertEqual(invoice.psa_attempt_ids, attempt, "the cron rerun opened nothing more")

    def test_job_performed_twice_charges_once(self):
        with freeze_time("2026-03-31"):
            invoice = self._due_invoices(70.0)
            created = self._localstripe_stats()["created"]
            self.env["account.move"]._cron_charge_due_invoices()
            [job] = queued_jobs(self.env, CHARGE_CHANNEL)
            perform_job(self.env, job)
            self.assertIn("nothing to do", perform_job(self.env, job))
        attempt = invoice.psa_attempt_ids
        self.assertEqual(attempt.state, "done")
        self.assertEqual(self._localstripe_stats()["created"], created + 1, "one payment intent")
        self.assertEqual(len(attempt.transaction_id.payment_id), 1, "one payment posted")
        self.assertEqual(invoice.amount_residual, 0.0)

    def test_worker_killed_after_sending_replays_the_same_key(self):
        """The first worker sends the charge and dies before committing: the job runs again, sends the same
        idempotency key, Stripe answers with the first charge, and the invoice is paid once."""
        with freeze_time("2026-03-31"):
            invoice = self._due_invoices(85.0)
            before = self._localstripe_stats()
            self.env["account.move"]._cron_charge_due_invoices()
            [job] = queued_jobs(self.env, CHARGE_CHANNEL)
            with self.assertRaises(WorkerDiedError), self.env.cr.savepoint():
                perform_job(self.env, job)
                self.assertEqual(invoice.psa_attempt_ids.state, "done")
                raise WorkerDiedError()
            self.env.invalidate_all()
            attempt = invoice.psa_attempt_ids
            self.assertEqual(attempt.state, "pending", "the dead worker's outcome was rolled back")
            self.assertEqual(job.state, "pending")
            perform_job(self.env, job)
        self.assertEqual(attempt.state, "done")
        stats = self._localstripe_stats()
        self.assertEqual(stats["created"], before["created"] + 1, "still one payment intent")
        self.assertEqual(stats["replayed"], before["replayed"] + 1, "answered from the idempotency key")
        self.assertEqual(len(attempt.transaction_id.payment_id), 1)
        self.assertTrue(self._paid(invoice))

    def test_attempt_waiting_in_the_queue_is_not_stale(self):
        """A charge whose job has not run yet after an hour (a busy queue) is not treated as interrupted."""
        with freeze_time("2026-03-31"):
            invoice = self._due_invoices(30.0)
            self.env["account.move"]._cron_charge_due_invoices()
        attempt = invoice.psa_attempt_ids
        attempt.flush_recordset()
        self.env.cr.execute(
            "UPDATE psa_payment_attempt SET create_date = %s WHERE id = %s",
            (datetime.now() - timedelta(hours=3), attempt.id),
        )
        attempt.invalidate_recordset()
        self.env["psa.payment.attempt"]._resolve_open_attempts(self.company)
        self.assertEqual(attempt.state, "pending", "its job will send it")
        queued_jobs(self.env, CHARGE_CHANNEL).button_done()
        stale = self.env["psa.payment.attempt"].search(
            self.env["psa.payment.attempt"]._get_stale_pending_domain(self.company)
        )
        self.assertIn(attempt, stale - stale._psa_attempts_with_live_job(stale))

    def test_cron_settles_the_payment_method_line_before_the_jobs(self):
        """Odoo creates a provider's payment method line the first time a payment needs it; two charge jobs at
        once would create two (and every later payment would fail): the cron creates it before enqueuing."""
        self.env.flush_all()
        # as on a database where the provider was never used for a payment (Odoo refuses to unlink it)
        self.env.cr.execute(
            "DELETE FROM account_payment_method_line WHERE payment_provider_id = %s", [self.provider.id]
        )
        self.env.invalidate_all()
        with freeze_time("2026-03-31"):
            self._due_invoices(25.0, 35.0)
            self.env["account.move"]._cron_charge_due_invoices()
        self.assertEqual(
            self.env["account.payment.method.line"].search_count([("payment_provider_id", "=", self.provider.id)]),
            1,
            "created once by the cron, before any charge job runs",
        )
