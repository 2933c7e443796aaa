from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.psa_timesheet_billing.tests.queue_job_helpers import perform_job, queued_jobs

from .common import RMM_CHANNEL, PsaRmmCommon


@tagged("post_install", "-at_install")
class TestRmmDeliveryJobs(PsaRmmCommon):
    """The endpoint stores a delivery and answers at once; a job on root.psa.rmm processes its events once."""

    def _delivery(self, response):
        return self.env["psa.rmm.delivery"].browse(response.json()["delivery"])

    def test_endpoint_answers_before_processing(self):
        response = self._post_only({"events": [self._event("q1"), self._event("q2", alert_id="A-2")]})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json()["summary"], {"received": 2})
        self.assertEqual({r["reason"] for r in response.json()["results"]}, {"queued for processing"})
        delivery = self._delivery(response)
        self.assertEqual(delivery.state, "queued")
        self.assertEqual(set(self._events().mapped("state")), {"received"})
        self.assertFalse(self._tickets(), "nothing processed in the request")
        [job] = queued_jobs(self.env, RMM_CHANNEL)
        self.assertEqual(job.identity_key, f"psa-rmm-delivery-{delivery.id}")
        perform_job(self.env, job)
        self.assertEqual(delivery.state, "done")
        self.assertEqual(delivery.reason, "2 events processed.")
        self.assertEqual(set(self._events().mapped("state")), {"done"})
        self.assertEqual(len(self._tickets()), 2)

    def test_job_performed_twice_processes_once(self):
        raised = self._event("t1")
        resolved = self._event("t2", event_type="alert.auto_resolved")
        response = self._post_only({"events": [raised, resolved]})
        [job] = queued_jobs(self.env, RMM_CHANNEL)
        perform_job(self.env, job)
        tickets, charges = self._tickets(), self.env["psa.rmm.charge"].search([("event_id", "in", self._events().ids)])
        self.assertEqual(len(tickets), 1)
        self.assertEqual(len(charges), 1, "the auto-resolved alert is charged")
        self.assertIn("0 events processed", perform_job(self.env, job))
        self.assertEqual(self._tickets(), tickets)
        self.assertEqual(self.env["psa.rmm.charge"].search([("event_id", "in", self._events().ids)]), charges)
        self.assertEqual(self._delivery(response).state, "done")

    def test_enqueue_twice_makes_one_job(self):
        response = self._post_only(self._event("d1"))
        delivery = self._delivery(response)
        delivery._psa_enqueue_processing()
        self.assertEqual(len(queued_jobs(self.env, RMM_CHANNEL)), 1)

    def test_parked_delivery_is_retried_from_its_form(self):
        response = self._post(self._event("p1", site="site-new"))
        delivery = self._delivery(response)
        self.assertEqual(delivery.state, "parked")
        self.assertIn("not mapped", delivery.reason)
        with self.assertRaises(UserError):
            delivery.with_user(self.agent).action_retry()
        newcomer = self.env["res.partner"].create({"name": "Newcomer", "is_company": True})
        self.env["psa.rmm.site"].create(
            {"integration_id": self.integration.id, "rmm_site_id": "site-new", "partner_id": newcomer.id}
        )
        self.assertIs(delivery.with_user(self.manager).action_retry(), True)
        self.assertEqual(delivery.state, "queued")
        [job] = queued_jobs(self.env, RMM_CHANNEL)
        perform_job(self.env, job)
        self.assertEqual(delivery.state, "done")
        self.assertEqual(self._tickets().partner_id, newcomer)
        with self.assertRaises(UserError):
            delivery.with_user(self.manager).action_retry()

    def test_failed_processing_marks_the_delivery_and_can_be_retried(self):
        config = self.env["queue.job.function"].job_config(
            self.env["queue.job.function"].job_function_name("psa.rmm.delivery", "_psa_job_process")
        )
        self.assertEqual(config.on_fail_method_name, "_psa_on_processing_failed")
        self.assertEqual(config.channel, RMM_CHANNEL)
        delivery = self._delivery(self._post_only(self._event("f1")))
        delivery._psa_on_processing_failed(exc_name="OperationalError", exc_message="server closed the connection")
        self.assertEqual(delivery.state, "failed")
        self.assertIn("server closed the connection", delivery.reason)
        queued_jobs(self.env, RMM_CHANNEL).button_done()
        delivery.with_user(self.manager).action_retry()
        perform_job(self.env, queued_jobs(self.env, RMM_CHANNEL))
        self.assertEqual(delivery.state, "done")
        self.assertEqual(len(self._tickets()), 1)
