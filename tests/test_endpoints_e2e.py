"""The service desk and the website feed the suite over HTTP, as an integrator's systems would.

A signed RMM alert becomes a ticket for the right customer, a retry creates nothing, a replayed request is
refused; an external website posts a lead with its API key. Then bad input (hypothesis): whatever is posted
to these endpoints, the server never answers 5xx and writes nothing.
"""

import json
import re
import time
import urllib.error
import uuid

import pytest
from _jobs import wait_for_jobs
from conftest import post_json, rmm_headers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.fixture(scope="module")
def rmm(admin, odoo_server):
    suffix = uuid.uuid4().hex[:6]
    partner_id = admin("res.partner", "create", {"name": f"E2E Dental {suffix}", "is_company": True})
    integration_id = admin("psa.rmm.integration", "create", {"name": f"E2E RMM {suffix}", "kind": "native"})
    admin(
        "psa.rmm.site",
        "create",
        {"integration_id": integration_id, "rmm_site_id": "e2e-site", "partner_id": partner_id},
    )
    secret = admin("psa.rmm.integration", "read", [integration_id], fields=["secret"])[0]["secret"]
    return {
        "url": f"{odoo_server.url}/psa/rmm/{integration_id}/events",
        "secret": secret,
        "partner_id": partner_id,
        "integration_id": integration_id,
    }


def _alert_event(event_id, alert_id="alert-1"):
    return {
        "id": event_id,
        "type": "alert.raised",
        "occurred_at": "2026-11-20T08:00:00Z",
        "site_id": "e2e-site",
        "device": {"id": "agent-e2e-1", "name": "E2E-FS01", "type": "server"},
        "alert": {"id": alert_id, "severity": "critical", "title": "Disk C: almost full", "message": "2% free"},
    }


def _tickets(admin, rmm):
    return admin(
        "helpdesk.ticket", "search_read", [("partner_id", "=", rmm["partner_id"])], fields=["name", "priority"]
    )


def test_signed_alert_becomes_one_ticket_and_retries_create_nothing(admin, rmm):
    body = json.dumps(_alert_event("evt-e2e-1")).encode()
    status, answer = post_json(rmm["url"], body, rmm_headers(rmm["secret"], body))
    assert status == 200, answer
    assert answer["summary"] == {"received": 1}, "stored and answered at once, processed by a job"
    wait_for_jobs(admin, "root.psa.rmm")
    tickets = _tickets(admin, rmm)
    assert len(tickets) == 1
    assert "Disk C" in tickets[0]["name"]
    # the RMM retries the same event later (new timestamp): a duplicate, no second ticket
    time.sleep(1)
    status, answer = post_json(rmm["url"], body, rmm_headers(rmm["secret"], body))
    assert status == 200
    assert answer["summary"].get("duplicate") == 1
    wait_for_jobs(admin, "root.psa.rmm")
    assert len(_tickets(admin, rmm)) == 1
    # the device was registered for the customer
    assert admin("psa.device", "search_count", [("partner_id", "=", rmm["partner_id"])]) == 1


def test_replayed_or_stale_or_forged_requests_are_refused(admin, rmm):
    body = json.dumps(_alert_event("evt-e2e-2", alert_id="alert-2")).encode()
    headers = rmm_headers(rmm["secret"], body)
    assert post_json(rmm["url"], body, headers)[0] == 200
    events = admin("psa.rmm.event", "search_count", [("integration_id", "=", rmm["integration_id"])])
    assert post_json(rmm["url"], body, headers)[0] == 409  # the very same signed request again
    stale = rmm_headers(rmm["secret"], body, timestamp=int(time.time()) - 3600)
    assert post_json(rmm["url"], body, stale)[0] == 401
    forged = rmm_headers("not-the-secret", body)
    assert post_json(rmm["url"], body, forged)[0] == 401
    assert admin("psa.rmm.event", "search_count", [("integration_id", "=", rmm["integration_id"])]) == events


@pytest.fixture(scope="module")
def lead_source(admin, odoo_server):
    source_id = admin("psa.lead.source", "create", {"name": f"E2E website {uuid.uuid4().hex[:6]}"})
    action = admin("psa.lead.source", "action_generate_key", [source_id])
    key = re.search(r"(\S+)$", action["params"]["message"]).group(1)
    return {"url": f"{odoo_server.url}/psa/leads", "key": key, "id": source_id}


def test_website_posts_a_lead_then_a_duplicate_is_merged(admin, lead_source):
    email = f"cio-{uuid.uuid4().hex[:6]}@tailspin.example.com"
    body = json.dumps({"name": "Ana Silva", "email": email, "company": "Tailspin", "message": "Need an MSP"}).encode()
    auth = {"Authorization": f"Bearer {lead_source['key']}"}
    status, answer = post_json(lead_source["url"], body, auth)
    assert status == 201, answer
    status, again = post_json(lead_source["url"], body, auth)
    assert status == 200 and again["merged"] and again["id"] == answer["id"]
    assert admin("crm.lead", "search_count", [("email_from", "=", email)]) == 1
    assert post_json(lead_source["url"], body, {"Authorization": "Bearer psa_nope"})[0] == 401


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=15), children, max_size=6),
    max_leaves=15,
)
EVENT_LIKE = st.fixed_dictionaries(
    {
        "id": JSON_VALUES,
        "type": st.sampled_from(["alert.raised", "alert.auto_resolved", "device.upserted"]) | st.text(),
    },
    optional={"site_id": JSON_VALUES, "device": JSON_VALUES, "alert": JSON_VALUES, "occurred_at": JSON_VALUES},
)
BODIES = st.one_of(
    st.binary(max_size=1024),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    EVENT_LIKE.map(lambda value: json.dumps(value).encode()),
    st.lists(EVENT_LIKE, max_size=3).map(lambda value: json.dumps(value).encode()),
)
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(body=BODIES, sign=st.sampled_from(["good", "bad", "none"]))
def test_rmm_endpoint_never_fails_or_writes_on_bad_input(admin, rmm, body, sign):
    before = admin("psa.rmm.event", "search_count", [("integration_id", "=", rmm["integration_id"])])
    tickets = admin("helpdesk.ticket", "search_count", [])
    headers = {"good": rmm_headers(rmm["secret"], body), "bad": rmm_headers("x", body), "none": {}}[sign]
    status, _answer = post_json(rmm["url"], body, headers)
    assert status < 500
    if status >= 400:
        assert admin("psa.rmm.event", "search_count", [("integration_id", "=", rmm["integration_id"])]) == before
        assert admin("helpdesk.ticket", "search_count", []) == tickets


@FUZZ
@given(body=BODIES | JSON_VALUES.map(lambda value: json.dumps({"name": value, "email": value}).encode()))
def test_lead_endpoint_never_fails_or_writes_on_bad_input(admin, lead_source, body):
    before = admin("crm.lead", "search_count", [])
    status, _answer = post_json(lead_source["url"], body, {"Authorization": f"Bearer {lead_source['key']}"})
    assert status < 500
    if status >= 400:
        assert admin("crm.lead", "search_count", []) == before


def _post_oversized(url, body, headers):
    """The server may answer 413 and close the connection before the whole body is sent."""
    try:
        return post_json(url, body, headers)[0]
    except (urllib.error.URLError, ConnectionError):
        return "closed"


def test_oversized_bodies_are_refused(admin, rmm, lead_source):
    events = admin("psa.rmm.event", "search_count", [])
    leads = admin("crm.lead", "search_count", [])
    big = b'{"id": "' + b"x" * (6 * 1024 * 1024) + b'"}'
    assert _post_oversized(rmm["url"], big, rmm_headers(rmm["secret"], big)) in (413, "closed")
    assert _post_oversized(lead_source["url"], big, {"Authorization": f"Bearer {lead_source['key']}"}) in (
        413,
        "closed",
    )
    assert admin("psa.rmm.event", "search_count", []) == events
    assert admin("crm.lead", "search_count", []) == leads


def test_identical_requests_at_the_same_moment_create_one_ticket(admin, rmm):
    """Four deliveries of the same signed request race each other: one is processed, the others are refused
    as replays, none fails (the server log is checked for ERROR lines at the end of the session)."""
    import concurrent.futures

    body = json.dumps(_alert_event("evt-e2e-race", alert_id="alert-race")).encode()
    headers = rmm_headers(rmm["secret"], body)
    before = admin("helpdesk.ticket", "search_count", [("partner_id", "=", rmm["partner_id"])])
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(f.result()[0] for f in [pool.submit(post_json, rmm["url"], body, headers) for _ in range(4)])
    assert statuses == [200, 409, 409, 409], statuses
    wait_for_jobs(admin, "root.psa.rmm")
    assert admin("helpdesk.ticket", "search_count", [("partner_id", "=", rmm["partner_id"])]) == before + 1
