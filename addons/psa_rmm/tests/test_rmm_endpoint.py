import json
import time

from odoo.tests import tagged

from .common import PsaRmmCommon


@tagged("post_install", "-at_install")
class TestRmmEndpoint(PsaRmmCommon):
    """The signed endpoint: what it refuses writes nothing, what it accepts is recorded once."""

    def _assert_refused(self, response, status, code):
        self.assertEqual(response.status_code, status, response.text)
        self.assertEqual(response.json()["error"], code)
        self.assertFalse(self._events(), "a refused request must write nothing")
        self.assertFalse(self._tickets())
        self.assertFalse(self.env["psa.rmm.delivery"].search([("integration_id", "=", self.integration.id)]))

    def test_bad_signature_is_refused(self):
        self._assert_refused(self._post(self._event("e1"), secret="not-the-secret"), 401, "bad_signature")

    def test_missing_headers_are_refused(self):
        response = self.url_open(self._url(), data=json.dumps(self._event("e1")), headers={"X-PSA-Timestamp": "1"})
        self._assert_refused(response, 401, "missing_signature")

    def test_stale_timestamp_is_refused(self):
        stale = int(time.time()) - self.integration.max_skew_seconds - 60
        self._assert_refused(self._post(self._event("e1"), timestamp=stale), 401, "stale_timestamp")

    def test_malformed_json_and_wrong_types_are_refused(self):
        self._assert_refused(self._post(None, raw=b'{"id": "e1", '), 400, "malformed_json")
        bad = self._event("e1")
        bad["device"] = "HOST-1"
        self._assert_refused(self._post(bad), 422, "invalid_event")

    def test_one_bad_event_refuses_the_whole_batch(self):
        bad = self._event("e2")
        bad["occurred_at"] = "last tuesday"
        response = self._post([self._event("e1"), bad])
        self._assert_refused(response, 422, "invalid_event")
        self.assertIn("events[1].occurred_at", response.json()["message"])

    def test_oversize_body_is_refused(self):
        self.integration.max_body_bytes = 300
        payload = self._event("e1", message="x" * 400)
        self._assert_refused(self._post(payload), 413, "payload_too_large")

    def test_unknown_or_archived_integration_is_404(self):
        self.integration.active = False
        self._assert_refused(self._post(self._event("e1")), 404, "unknown_integration")

    def test_replayed_request_is_refused(self):
        body = json.dumps(self._event("e1")).encode()
        timestamp = int(time.time())
        first = self._post(None, raw=body, timestamp=timestamp)
        self.assertEqual(first.status_code, 200, first.text)
        replay = self._post(None, raw=body, timestamp=timestamp)
        self.assertEqual(replay.status_code, 409)
        self.assertEqual(replay.json()["error"], "replay")
        self.assertEqual(len(self._events()), 1)
        self.assertEqual(len(self._tickets()), 1)

    def test_retried_event_is_a_duplicate_and_creates_nothing(self):
        first = self._post(self._event("e1"))
        self.assertEqual(first.json()["results"][0]["status"], "received")
        self.assertEqual(self._events().state, "done")
        # the RMM retries later: new timestamp, new signature, same event id
        retry = self._post(self._event("e1"), timestamp=int(time.time()) + 1)
        self.assertEqual(retry.status_code, 200)
        self.assertEqual(
            retry.json()["results"], [{"event_id": "e1", "status": "duplicate", "reason": "already received"}]
        )
        self.assertEqual(len(self._events()), 1)
        self.assertEqual(len(self._tickets()), 1)

    def test_batch_reports_each_event_and_duplicates_inside_it(self):
        batch = {
            "events": [
                self._event("b1", alert_id="A-1"),
                self._event("b2", alert_id="A-2", device="dev-2", site="site-2"),
                self._event("b1", alert_id="A-1"),
                self._event("b3", event_type="device.upserted", device="dev-3", device_type="workstation"),
            ]
        }
        response = self._post(batch)
        self.assertEqual(response.status_code, 200, response.text)
        statuses = [r["status"] for r in response.json()["results"]]
        self.assertEqual(statuses, ["received", "received", "duplicate", "received"])
        self.assertEqual(response.json()["summary"], {"received": 3, "duplicate": 1})
        self.assertEqual(len(self._events()), 3)
        self.assertEqual(set(self._events().mapped("state")), {"done"})
        delivery = self.env["psa.rmm.delivery"].browse(response.json()["delivery"])
        self.assertEqual((delivery.state, delivery.event_count, delivery.duplicate_count), ("done", 4, 1))
        self.assertEqual(self._tickets().partner_id, self.customer | self.other_customer)

    def test_unknown_site_is_parked_then_reprocessed_once_mapped(self):
        response = self._post(self._event("p1", site="site-new"))
        self.assertEqual(response.json()["results"][0]["status"], "received")
        event = self._events()
        self.assertEqual(event.state, "parked")
        self.assertIn("not mapped", event.reason)
        self.assertFalse(self._tickets())
        # the hourly reminder gives the team leader one activity saying which site to map
        self.team.user_id = self.manager
        integrations = self.env["psa.rmm.integration"]
        integrations._cron_remind_parked_events()
        integrations._cron_remind_parked_events()
        activity = self.integration.activity_ids
        self.assertEqual(len(activity), 1, "a rerun gives no second activity")
        self.assertEqual(activity.activity_type_id, self.env.ref("psa_rmm.mail_activity_type_psa_rmm_parked"))
        self.assertEqual(activity.user_id, self.manager)
        self.assertIn("site-new (1)", str(activity.note))
        newcomer = self.env["res.partner"].create({"name": "Newcomer", "is_company": True})
        self.env["psa.rmm.site"].create(
            {"integration_id": self.integration.id, "rmm_site_id": "site-new", "partner_id": newcomer.id}
        )
        self.assertIs(event.with_user(self.manager).action_reprocess(), True, "an answer XML-RPC can carry")
        self.assertEqual(event.state, "done")
        self.assertEqual(self._tickets().partner_id, newcomer)
        self.assertFalse(self.integration.activity_ids, "nothing parked any more: the activity is marked done")

    def test_setup_checklist_says_whether_every_rmm_posted_signed_events(self):
        self.env["psa.rmm.integration"].search([("id", "!=", self.integration.id)]).active = False  # demo ones
        self.assertFalse(self.env["res.config.settings"].create({}).psa_setup_rmm_done, "no event posted yet")
        response = self._post(self._event("c1"))
        self.assertEqual(response.status_code, 200, response.text)
        self.assertTrue(self.env["res.config.settings"].create({}).psa_setup_rmm_done)

    def test_new_secret_refuses_the_old_one(self):
        """A manager's "New Secret" (or the same call over XML-RPC) answers True; the old secret stops working."""
        old_secret = self.integration.sudo().secret
        self.assertIs(self.integration.with_user(self.manager).action_regenerate_secret(), True)
        self.assertNotEqual(self.integration.sudo().secret, old_secret)
        self._assert_refused(self._post(self._event("e1"), secret=old_secret), 401, "bad_signature")
        self.assertEqual(self._post(self._event("e1")).status_code, 200)
