import json
import xmlrpc.client
from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from ..tools import locks
from ..tools.lead_payload import MAX_PAYLOAD_BYTES


@tagged("post_install", "-at_install")
class TestLeadsEndpoint(HttpCase):
    """An external website posts leads as JSON to /psa/leads with its own API key."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.team = cls.env["crm.team"].create({"name": "Web sales"})
        cls.source = cls.env["psa.lead.source"].create({"name": "Partner website", "team_id": cls.team.id})
        cls.key = cls.source._psa_generate_key()
        cls.leads = cls.env["crm.lead"].with_context(active_test=False)

    def _post(self, payload, key=None, raw=None, idempotency_key=None):
        body = raw if raw is not None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        if key is not False:
            headers["Authorization"] = f"Bearer {key or self.key}"
        return self.url_open("/psa/leads", data=body, headers=headers)

    def _lead_count(self):
        return self.leads.search_count([("psa_lead_source_id", "=", self.source.id)])

    def test_good_post_creates_a_lead(self):
        response = self._post(
            {"name": "Dana Scully", "email": "Dana@Example.com", "company": "X Files Ltd", "message": "Need an MSP"}
        )
        self.assertEqual(response.status_code, 201, response.text)
        lead = self.leads.browse(response.json()["id"])
        self.assertEqual(lead.email_from, "dana@example.com")
        self.assertEqual(lead.contact_name, "Dana Scully")
        self.assertEqual(lead.partner_name, "X Files Ltd")
        self.assertEqual(lead.team_id, self.team)
        self.assertEqual(lead.psa_lead_source_id, self.source)
        self.assertIn("Need an MSP", lead.description)

    def test_duplicate_email_is_merged_into_the_open_lead(self):
        first = self._post({"name": "Fox Mulder", "email": "fox@example.com", "subject": "Backup"})
        self.assertEqual(first.status_code, 201)
        second = self._post({"name": "Fox Mulder", "email": "FOX@example.com", "message": "Also 20 laptops"})
        self.assertEqual(second.status_code, 200)
        self.assertEqual(second.json(), {"id": first.json()["id"], "merged": True})
        self.assertEqual(self._lead_count(), 1)
        lead = self.leads.browse(first.json()["id"])
        self.assertIn("Also 20 laptops", "".join(lead.message_ids.mapped("body")))

    def test_bad_posts_are_refused_and_write_nothing(self):
        cases = [
            ({"name": "Bot", "email": "bot@example.com", "website": "http://spam.example"}, None, None, 400, "spam"),
            ({"name": "No mail"}, None, None, 400, "missing_field"),
            ({"name": "Bad", "email": "not-an-email"}, None, None, 400, "invalid_email"),
            ({"name": "Bad", "email": "a@example.com", "budget": "1M"}, None, None, 400, "unknown_field"),
            ({"name": ["list"], "email": "a@example.com"}, None, None, 400, "invalid_field"),
            (None, None, b"{not json", 400, "invalid_json"),
            (None, None, b"x" * (MAX_PAYLOAD_BYTES + 1), 413, "payload_too_large"),
            ({"name": "Ok", "email": "ok@example.com"}, False, None, 401, "unauthorized"),
            ({"name": "Ok", "email": "ok@example.com"}, "psa_deadbeef_wrong", None, 401, "unauthorized"),
        ]
        messages_before = self.env["mail.message"].search_count([])
        for payload, key, raw, status, code in cases:
            with self.subTest(code=code, status=status):
                response = self._post(payload, key=key, raw=raw)
                self.assertEqual(response.status_code, status, response.text)
                self.assertEqual(response.json()["error"], code)
        self.assertEqual(self._lead_count(), 0)
        self.assertEqual(self.env["mail.message"].search_count([]), messages_before)

    def test_archived_source_and_old_key_are_refused(self):
        old_key = self.key
        self.source._psa_generate_key()
        self.assertEqual(self._post({"name": "A", "email": "a@example.com"}, key=old_key).status_code, 401)
        self.assertNotIn(old_key, self.source.sudo().key_hash, "the key is only stored hashed")
        new_key = self.source._psa_generate_key()
        self.source.active = False
        self.assertEqual(self._post({"name": "A", "email": "a@example.com"}, key=new_key).status_code, 401)
        self.assertEqual(self._lead_count(), 0)

    def test_same_idempotency_key_answers_the_first_answer_and_writes_nothing(self):
        payload = {"name": "Walter Skinner", "email": "skinner@example.com", "message": "Quote for 40 seats"}
        first = self._post(payload, idempotency_key="order-form-7f3a")
        self.assertEqual(first.status_code, 201, first.text)
        lead = self.leads.browse(first.json()["id"])
        messages = lead.message_ids
        again = self._post(payload, idempotency_key="order-form-7f3a")
        self.assertEqual((again.status_code, again.json()), (201, first.json()))
        self.assertEqual(again.headers.get("Idempotent-Replayed"), "true")
        lead.invalidate_recordset()
        self.assertEqual(lead.message_ids, messages, "a replay posts no merge note")
        self.assertEqual(self._lead_count(), 1)
        # another body under the same key: refused, nothing written
        other = self._post(dict(payload, message="Quote for 50 seats"), idempotency_key="order-form-7f3a")
        self.assertEqual(other.status_code, 422, other.text)
        self.assertEqual(other.json()["error"], "idempotency_key_reused")
        lead.invalidate_recordset()
        self.assertEqual(lead.message_ids, messages)
        # the key belongs to its source: another website may use the same one
        other_source = self.env["psa.lead.source"].create({"name": "Reseller website"})
        other_key = other_source._psa_generate_key()
        response = self._post(payload, key=other_key, idempotency_key="order-form-7f3a")
        self.assertEqual(response.json(), {"id": lead.id, "merged": True}, "merged, not replayed")
        self.assertFalse(response.headers.get("Idempotent-Replayed"))

    def test_idempotency_key_is_forgotten_after_24_hours(self):
        payload = {"name": "Monica Reyes", "email": "reyes@example.com"}
        start = datetime(2026, 11, 2, 9, 0)
        with freeze_time(start):
            first = self._post(payload, idempotency_key="retry-1")
        self.assertEqual(first.status_code, 201)
        keys = self.env["psa.lead.idempotency.key"].search([("source_id", "=", self.source.id)])
        self.assertEqual(len(keys), 1)
        with freeze_time(start + timedelta(hours=23)):
            self.assertEqual(self._post(payload, idempotency_key="retry-1").status_code, 201, "still replayed")
            self.assertEqual(keys._cron_forget_expired(), 0)
        with freeze_time(start + timedelta(hours=25)):
            self.assertEqual(keys._cron_forget_expired(), 1)
            self.assertFalse(keys.exists())
            later = self._post(payload, idempotency_key="retry-1")
        self.assertEqual((later.status_code, later.json()), (200, {"id": first.json()["id"], "merged": True}))

    def test_bad_idempotency_keys_are_refused(self):
        for bad in ("", "x" * 256, "caf\u00e9"):
            with self.subTest(key=bad):
                response = self._post({"name": "A", "email": "a@example.com"}, idempotency_key=bad)
                self.assertEqual(response.status_code, 400, response.text)
                self.assertEqual(response.json()["error"], "invalid_idempotency_key")
        self.assertEqual(self._lead_count(), 0)

    def test_lock_keys(self):
        self.assertEqual(locks.lock_key(1, "a@example.com"), locks.lock_key(1, "a@example.com"))
        self.assertNotEqual(locks.lock_key(1, "a@example.com"), locks.lock_key(2, "a@example.com"))
        self.assertTrue(-(2**31) <= locks.lock_key("x" * 1000) < 2**31)
        self.assertEqual(
            self.source._psa_get_lead_lock_key("Dana@Example.COM"),
            self.source._psa_get_lead_lock_key("dana@example.com"),
        )

    def test_integrator_gets_the_new_key_as_data_over_xmlrpc(self):
        """A sales manager's integration script asks for a new key over XML-RPC and gets it back as data,
        once; the website's posts work with it, the previous key stops working."""
        new_test_user(
            self.env, login="psa_key_manager", password="psa_key_manager", groups="sales_team.group_sale_manager"
        )
        uid = self.xmlrpc_common.authenticate(self.env.cr.dbname, "psa_key_manager", "psa_key_manager", {})
        answer = self.xmlrpc_object.execute_kw(
            self.env.cr.dbname, uid, "psa_key_manager", "psa.lead.source", "generate_api_key", [[self.source.id]]
        )
        self.assertEqual(sorted(answer), ["endpoint", "key", "key_index", "source_id"])
        self.assertEqual(answer["source_id"], self.source.id)
        self.assertEqual(answer["endpoint"], "/psa/leads")
        self.assertTrue(answer["key"].startswith(f"psa_{answer['key_index']}_"))
        self.assertEqual(
            self._post({"name": "Key Data", "email": "key@example.com"}, key=answer["key"]).status_code, 201
        )
        self.assertEqual(self._post({"name": "Old Key", "email": "old@example.com"}).status_code, 401)
        self.assertNotIn(answer["key"], str(self.source.sudo().read()), "the key is not stored in clear")

    def test_salesman_cannot_replace_the_key_over_xmlrpc(self):
        """The button is for sales managers; a salesman calling the method over RPC is refused, the key kept."""
        new_test_user(
            self.env, login="psa_key_salesman", password="psa_key_salesman", groups="sales_team.group_sale_salesman"
        )
        uid = self.xmlrpc_common.authenticate(self.env.cr.dbname, "psa_key_salesman", "psa_key_salesman", {})
        for method in ("generate_api_key", "action_generate_key"):
            with self.assertRaises(xmlrpc.client.Fault) as refused, mute_logger("odoo.http"):
                self.xmlrpc_object.execute_kw(
                    self.env.cr.dbname, uid, "psa_key_salesman", "psa.lead.source", method, [[self.source.id]]
                )
            self.assertEqual(refused.exception.faultCode, 4, refused.exception.faultString)
        self.assertEqual(self._post({"name": "Still", "email": "still@example.com"}).status_code, 201)
