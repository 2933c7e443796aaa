from datetime import date, datetime

from odoo.tests import BaseCase, tagged

from ..tools import adapters, billing, events
from ..tools.events import EventError


@tagged("post_install", "-at_install")
class TestRmmTools(BaseCase):
    """Plain-Python rules: signature, parsing, adapters, pricing, proration."""

    def _event(self, **overrides):
        event = {
            "id": "e1",
            "type": "alert.raised",
            "occurred_at": "2026-11-10T09:30:00+01:00",
            "site_id": 42,
            "device": {"id": "d1", "name": "PC-1", "type": "workstation"},
            "alert": {"id": "a1", "severity": "Critical", "title": "CPU", "message": "CPU at 100%"},
        }
        event.update(overrides)
        return event

    def test_signature_accepts_only_the_signed_body_within_skew(self):
        body = b'{"id": "e1"}'
        signature = "sha256=" + events.compute_signature("k", "1000", body)
        self.assertEqual(events.verify_request("k", "1000", signature, body, now=1100, max_skew=300), 1000)
        with self.assertRaises(EventError) as bad:
            events.verify_request("k", "1000", signature, body + b" ", now=1100, max_skew=300)
        self.assertEqual((bad.exception.status, bad.exception.code), (401, "bad_signature"))
        with self.assertRaises(EventError) as other_key:
            events.verify_request("other", "1000", signature, body, now=1100, max_skew=300)
        self.assertEqual(other_key.exception.code, "bad_signature")
        with self.assertRaises(EventError) as stale:
            events.verify_request("k", "1000", signature, body, now=1301, max_skew=300)
        self.assertEqual(stale.exception.code, "stale_timestamp")
        with self.assertRaises(EventError) as missing:
            events.verify_request("k", None, signature, body, now=1000, max_skew=300)
        self.assertEqual(missing.exception.code, "missing_signature")

    def test_json_refused_when_oversize_or_malformed(self):
        with self.assertRaises(EventError) as big:
            events.load_json(b"[" + b"1," * 100 + b"1]", max_bytes=50)
        self.assertEqual(big.exception.status, 413)
        with self.assertRaises(EventError) as broken:
            events.load_json(b'{"id": ', max_bytes=50)
        self.assertEqual((broken.exception.status, broken.exception.code), (400, "malformed_json"))

    def test_normalize_converts_time_to_utc_and_keeps_fields(self):
        (event,) = events.normalize_batch(self._event())
        self.assertEqual(event["occurred_at"], datetime(2026, 11, 10, 8, 30))
        self.assertEqual((event["site_id"], event["severity"], event["alert_id"]), ("42", "critical", "a1"))
        self.assertEqual(events.priority_for(event["severity"]), "3")
        self.assertEqual(len(events.normalize_batch({"events": [self._event(), self._event(id="e2")]})), 2)

    def test_normalize_names_the_wrong_field(self):
        cases = [
            (self._event(type="alert.exploded"), "events[0].type"),
            (self._event(occurred_at="yesterday"), "events[0].occurred_at"),
            (self._event(device="PC-1"), "events[0].device"),
            (self._event(alert={"severity": "high"}), "events[0].alert.id"),
            (self._event(id=None), "events[0].id"),
            (self._event(site_id={"nested": 1}), "events[0].site_id"),
        ]
        for payload, field in cases:
            with self.subTest(field=field), self.assertRaises(EventError) as error:
                events.normalize_batch(payload)
            self.assertEqual(error.exception.status, 422)
            self.assertIn(field, error.exception.message)
        with self.assertRaises(EventError):
            events.normalize_batch([])

    def test_tactical_rmm_failure_and_resolved(self):
        payload = {
            "event": "failure",
            "alert": {"id": 77, "alert_time": "2026-11-10T08:00:00Z", "severity": "error", "message": "Disk full"},
            "agent": {"agent_id": "AgEnT1", "hostname": "SRV1", "monitoring_type": "server", "site": {"id": 3}},
        }
        (raised,) = adapters.parse_payload("tacticalrmm", payload)
        self.assertEqual(
            (raised["type"], raised["site_id"], raised["device_id"], raised["device_type"], raised["alert_id"]),
            ("alert.raised", "3", "AgEnT1", "server", "77"),
        )
        payload["event"] = "resolved"
        payload["alert"]["resolved_on"] = "2026-11-10T09:00:00Z"
        (resolved,) = adapters.parse_payload("tacticalrmm", payload)
        self.assertEqual((resolved["type"], resolved["alert_id"]), ("alert.auto_resolved", "77"))
        self.assertNotEqual(resolved["event_id"], raised["event_id"])

    def test_ninjaone_condition_triggered_and_reset(self):
        activity = {
            "id": 9001,
            "activityTime": 1794300000,
            "activityType": "CONDITION",
            "statusCode": "TRIGGERED",
            "severity": "MAJOR",
            "seriesUid": "series-1",
            "sourceName": "CPU over 90%",
            "message": "CPU over 90% for 5 minutes",
            "deviceId": 1042,
            "device": {"id": 1042, "organizationId": 7, "systemName": "FAB-SW", "nodeClass": "NMS_SWITCH"},
        }
        (raised,) = adapters.parse_payload("ninjaone", [activity])
        self.assertEqual(
            (raised["type"], raised["site_id"], raised["device_id"], raised["device_type"], raised["severity"]),
            ("alert.raised", "7", "1042", "network", "error"),
        )
        reset = dict(activity, id=9002, statusCode="RESET")
        (resolved,) = adapters.parse_payload("ninjaone", reset)
        self.assertEqual((resolved["type"], resolved["alert_id"]), ("alert.auto_resolved", "series-1"))

    def test_unknown_shapes_are_refused(self):
        for kind, payload in [
            ("ninjaone", {"alert": {"id": 1}}),
            ("ninjaone", {"activityType": "ACTIONSET", "statusCode": "STARTED"}),
            ("tacticalrmm", {"id": 1, "activityType": "CONDITION"}),
            ("tacticalrmm", {"event": "snoozed", "alert": {}, "agent": {}}),
            ("sometool", {}),
        ]:
            with self.subTest(kind=kind, payload=payload), self.assertRaises(EventError) as error:
                adapters.parse_payload(kind, payload)
            self.assertEqual((error.exception.status, error.exception.code), (422, "unknown_shape"))

    def test_price_included_then_overage(self):
        prices = [billing.price_event(rank, 2, 20.0, 15.0)[0] for rank in (1, 2, 3, 4)]
        self.assertEqual(prices, [0.0, 0.0, 15.0, 15.0])
        self.assertEqual(billing.price_event(3, 2, 20.0, 0.0)[0], 20.0)
        price, rule = billing.price_event(1, 0, 20.0, 15.0)
        self.assertEqual(price, 20.0)
        self.assertIn("per-event", rule)

    def test_proration_counts_days_active_in_period(self):
        quantity, shares = billing.prorated_quantity(
            [
                (date(2026, 10, 1), None),  # all month
                (date(2026, 11, 16), None),  # second half of a 30-day month
                (date(2026, 10, 1), date(2026, 11, 10)),  # removed on the 10th
                (date(2026, 12, 2), None),  # not yet there
            ],
            date(2026, 11, 1),
            date(2026, 11, 30),
        )
        self.assertEqual(shares, [1.0, 0.5, round(10 / 30, 4), 0.0])
        self.assertEqual(quantity, round(1.0 + 0.5 + round(10 / 30, 4), 2))
        self.assertEqual(billing.month_bounds(date(2026, 12, 15)), (date(2026, 12, 1), date(2026, 12, 31)))
