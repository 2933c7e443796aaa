"""Every door of the suite, when the same thing arrives several times at once.

Retries and parallel deliveries are normal: a website posts the same lead again, a mail gateway hands several
messages of one sender to Odoo at the same moment, Stripe delivers an event twice, a person double-clicks. Each
test sends the same thing from several threads released together by a barrier, each thread with its own HTTP or
XML-RPC connection, against the live test server. What must hold: exactly one effect, every other arrival gets
the answer a later arrival would get, no 5xx, and no ERROR line in the server log (checked per test here, and
for the whole session by ``conftest.check_server_log``).
"""

import hashlib
import hmac
import http.cookiejar
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from _jobs import wait_for_jobs
from conftest import STRIPE_WEBHOOK_SECRET, Rpc, create_user, post_json, ref, rmm_headers

PARALLEL = 4


def at_once(count, call, *args):
    """Run ``call(index, *args)`` in ``count`` threads released at the same moment; return the results (or the
    exceptions raised) in index order."""
    barrier = threading.Barrier(count)

    def run(index):
        barrier.wait()
        try:
            return call(index, *args)
        except Exception as error:  # noqa: BLE001 - returned to the test, which asserts on it
            return error

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


@pytest.fixture
def no_new_error_lines(odoo_server):
    """The ERROR/CRITICAL lines this test made the server log (a race lost with a failed query shows here)."""
    before = len(odoo_server.error_lines())
    yield
    new = odoo_server.error_lines()[before:]
    assert not new, "".join(new[:5])


def _rpc(admin):
    """A fresh XML-RPC session (``ServerProxy`` is not thread-safe: one per thread)."""
    return Rpc(admin.url, admin.dbname, admin.login, admin.password)


# ------------------------------------------------------------------------------------------------
# Leads: POST /psa/leads
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lead_source(admin, odoo_server):
    source_id = admin("psa.lead.source", "create", {"name": f"Race website {uuid.uuid4().hex[:6]}"})
    action = admin("psa.lead.source", "action_generate_key", [source_id])
    key = re.search(r"(\S+)$", action["params"]["message"]).group(1)
    return {"url": f"{odoo_server.url}/psa/leads", "key": key, "id": source_id}


def _lead_body(email, message="Need an MSP"):
    return json.dumps({"name": "Ana Silva", "email": email, "company": "Tailspin", "message": message}).encode()


def test_same_new_lead_posted_at_once_creates_one_lead(admin, lead_source, no_new_error_lines):
    """The website's backend times out and posts the same new lead again, several times at once: one lead,
    the others are merged into it exactly as a later post would be."""
    email = f"race-{uuid.uuid4().hex[:6]}@tailspin.example.com"
    auth = {"Authorization": f"Bearer {lead_source['key']}"}
    # the same address, written differently: the duplicate check normalises it
    bodies = [_lead_body(email if i % 2 else email.upper()) for i in range(PARALLEL)]
    answers = at_once(PARALLEL, lambda i: post_json(lead_source["url"], bodies[i], auth))
    statuses = sorted(status for status, _answer in answers)
    assert statuses == [200] * (PARALLEL - 1) + [201], answers
    assert len({answer["id"] for _status, answer in answers}) == 1, answers
    assert all(answer["merged"] == (status == 200) for status, answer in answers)
    assert admin("crm.lead", "search_count", [("email_normalized", "=", email)]) == 1


def test_same_idempotency_key_at_once_answers_the_first_answer(admin, lead_source, no_new_error_lines):
    """A retried request carries its first Idempotency-Key: whether it arrives at the same moment or later, it
    gets the first answer again and writes nothing; the same key with another body is refused."""
    email = f"idem-{uuid.uuid4().hex[:6]}@tailspin.example.com"
    headers = {"Authorization": f"Bearer {lead_source['key']}", "Idempotency-Key": f"req-{uuid.uuid4()}"}
    body = _lead_body(email)
    answers = at_once(PARALLEL, lambda _i: post_json(lead_source["url"], body, headers))
    assert answers == [answers[0]] * PARALLEL, answers
    status, first = answers[0]
    assert status == 201 and first["merged"] is False, answers
    leads = admin("crm.lead", "search_read", [("email_normalized", "=", email)], fields=["message_ids"])
    assert len(leads) == 1
    messages = len(leads[0]["message_ids"])
    # a later retry with the same key: the first answer again, nothing written (no merge note)
    assert post_json(lead_source["url"], body, headers) == (201, first)
    assert admin("crm.lead", "read", [first["id"]], fields=["message_ids"])[0]["message_ids"] == leads[0]["message_ids"]
    assert len(leads[0]["message_ids"]) == messages
    # the same key with another body: a client bug, refused with a clear 4xx
    status, error = post_json(lead_source["url"], _lead_body(email, "Another request"), headers)
    assert status == 422 and error["error"] == "idempotency_key_reused", (status, error)
    # without the key, the same body is a new post: merged into the open lead
    status, merged = post_json(lead_source["url"], body, {"Authorization": headers["Authorization"]})
    assert (status, merged) == (200, {"id": first["id"], "merged": True})
    # two different bodies under one new key at the same moment: the first is answered, the other refused
    headers = {**headers, "Idempotency-Key": f"req-{uuid.uuid4()}"}
    bodies = [_lead_body(f"idem-{uuid.uuid4().hex[:6]}@tailspin.example.com") for _i in range(2)]
    answers = at_once(2, lambda i: post_json(lead_source["url"], bodies[i], headers))
    assert sorted(status for status, _answer in answers) == [201, 422], answers


# ------------------------------------------------------------------------------------------------
# First e-mails: mail.thread.message_process (one delivery per incoming message, as a mail gateway does)
# ------------------------------------------------------------------------------------------------
MAIL = """Return-Path: <{email}>
To: helpdesk@msp.example
From: "Quinn Racer" <{email}>
Subject: Printer offline ({index})
Message-ID: <{msgid}@mail.example>
Date: Mon, 23 Nov 2026 09:00:00 +0000
Content-Type: text/plain; charset=utf-8

Please help, message {index}.
"""


def test_first_emails_of_one_sender_at_once_create_one_contact(admin, no_new_error_lines):
    """Several first e-mails of one unknown sender are processed at once: one contact, one portal user, and
    every ticket belongs to that contact."""
    domain = f"race-{uuid.uuid4().hex[:6]}.example"
    company_id = admin(
        "res.partner",
        "create",
        {
            "name": f"Racing Ltd {domain}",
            "is_company": True,
            "email": f"office@{domain}",
            "psa_portal_on_first_email": True,
        },
    )
    email = f"quinn@{domain}"

    def deliver(index):
        raw = MAIL.format(email=email, index=index, msgid=uuid.uuid4().hex)
        return _rpc(admin)("mail.thread", "message_process", "helpdesk.ticket", raw)

    ticket_ids = at_once(PARALLEL, deliver)
    assert all(isinstance(ticket_id, int) for ticket_id in ticket_ids), ticket_ids
    contacts = admin("res.partner", "search_read", [("email_normalized", "=", email)], fields=["parent_id"])
    assert len(contacts) == 1, contacts
    assert contacts[0]["parent_id"][0] == company_id
    assert admin("res.users", "search_count", [("login", "=", email)]) == 1
    tickets = admin("helpdesk.ticket", "read", ticket_ids, fields=["partner_id"])
    assert {ticket["partner_id"][0] for ticket in tickets} == {contacts[0]["id"]}


# ------------------------------------------------------------------------------------------------
# RMM events: POST /psa/rmm/<integration>/events (already race-safe: the model the other doors follow)
# ------------------------------------------------------------------------------------------------
def test_same_alert_at_once_under_two_event_ids_opens_one_ticket(admin, odoo_server, no_new_error_lines):
    suffix = uuid.uuid4().hex[:6]
    partner_id = admin("res.partner", "create", {"name": f"Race Dental {suffix}", "is_company": True})
    integration_id = admin("psa.rmm.integration", "create", {"name": f"Race RMM {suffix}", "kind": "native"})
    admin("psa.rmm.site", "create", {"integration_id": integration_id, "rmm_site_id": "race", "partner_id": partner_id})
    secret = admin("psa.rmm.integration", "read", [integration_id], fields=["secret"])[0]["secret"]
    url = f"{odoo_server.url}/psa/rmm/{integration_id}/events"

    def raise_alert(index):
        body = json.dumps(
            {
                "id": f"evt-race-{suffix}-{index}",
                "type": "alert.raised",
                "occurred_at": "2026-11-20T08:00:00Z",
                "site_id": "race",
                "device": {"id": "agent-race", "name": "RACE-FS01", "type": "server"},
                "alert": {"id": "alert-race", "severity": "critical", "title": "Disk C: almost full"},
            }
        ).encode()
        return post_json(url, body, rmm_headers(secret, body))

    answers = at_once(2, raise_alert)
    assert [status for status, _answer in answers] == [200, 200], answers
    wait_for_jobs(admin, "root.psa.rmm")
    assert admin("helpdesk.ticket", "search_count", [("partner_id", "=", partner_id)]) == 1
    assert admin("psa.rmm.event", "search_count", [("integration_id", "=", integration_id)]) == 2


# ------------------------------------------------------------------------------------------------
# Money: the Stripe webhook, a portal revoke racing a charge, the payment-link button
# ------------------------------------------------------------------------------------------------
def _posted_invoice(admin, partner_id, amount=120.0):
    invoice = admin(
        "account.move",
        "create",
        {
            "move_type": "out_invoice",
            "partner_id": partner_id,
            "invoice_date": str(date.today()),
            "invoice_line_ids": [(0, 0, {"name": "Managed services", "price_unit": amount, "tax_ids": [(5, 0, 0)]})],
        },
    )
    admin("account.move", "action_post", [invoice])
    return invoice


def _stripe_headers(body):
    timestamp = int(time.time())
    signature = hmac.new(STRIPE_WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={timestamp},v1={signature}"}


def test_same_stripe_event_delivered_twice_at_once_is_processed_once(
    admin, odoo_server, localstripe, no_new_error_lines
):
    """Stripe delivers one payment_intent.succeeded event twice at the same moment: the transaction is
    confirmed once (one confirmation note on the invoice), both deliveries are acknowledged."""
    partner_id = admin("res.partner", "create", {"name": f"Webhook Customer {uuid.uuid4().hex[:6]}"})
    invoice = _posted_invoice(admin, partner_id)
    amount = admin("account.move", "read", [invoice], fields=["amount_total"])[0]["amount_total"]
    tx_id = admin(
        "payment.transaction",
        "create",
        {
            "provider_id": ref(admin, "payment.payment_provider_stripe"),
            "payment_method_id": ref(admin, "payment.payment_method_card"),
            "amount": amount,
            "currency_id": admin("account.move", "read", [invoice], fields=["currency_id"])[0]["currency_id"][0],
            "partner_id": partner_id,
            "operation": "online_direct",
            "invoice_ids": [(6, 0, [invoice])],
        },
    )
    reference = admin("payment.transaction", "read", [tx_id], fields=["reference"])[0]["reference"]
    intent = {
        "id": f"pi_race_{uuid.uuid4().hex[:10]}",
        "object": "payment_intent",
        "description": reference,
        "status": "succeeded",
        "amount": round(amount * 100),
        "currency": "eur",
        "payment_method": "pm_race",
    }
    body = json.dumps(
        {"id": f"evt_race_{uuid.uuid4().hex[:10]}", "type": "payment_intent.succeeded", "data": {"object": intent}}
    ).encode()
    url = f"{odoo_server.url}/payment/stripe/webhook"
    answers = at_once(2, lambda _i: post_json(url, body, _stripe_headers(body)))
    assert [status for status, _answer in answers] == [200, 200], answers
    assert admin("payment.transaction", "read", [tx_id], fields=["state"])[0]["state"] == "done"
    notes = admin(
        "mail.message",
        "search_count",
        [("model", "=", "account.move"), ("res_id", "=", invoice), ("body", "ilike", reference)],
    )
    assert notes == 1, f"{notes} confirmation notes of {reference} on the invoice"


class PortalSession:
    """A portal user's browser: logged in with a session cookie, posts forms with their CSRF token."""

    def __init__(self, url, dbname, login, password):
        self.url = url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        token = self.csrf_token("/web/login")
        self.post("/web/login", {"login": login, "password": password, "db": dbname, "csrf_token": token})

    def get(self, path):
        with self.opener.open(f"{self.url}{path}", timeout=60) as response:
            return response.read().decode()

    def csrf_token(self, path):
        return re.search(r'name="csrf_token" value="([^"]+)"', self.get(path)).group(1)

    def post(self, path, data):
        request = urllib.request.Request(f"{self.url}{path}", data=urllib.parse.urlencode(data).encode())
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code


def test_portal_revoke_racing_a_charge_never_charges_a_revoked_mandate(
    admin, odoo_server, localstripe, no_new_error_lines
):
    """The customer revokes auto-pay in the portal at the moment the accountant presses "Charge now": either
    the charge came first (one charge, then the mandate is revoked) or the revocation did (no charge) — never a
    charge on a mandate already revoked, never two."""
    suffix = uuid.uuid4().hex[:6]
    partner_id = admin("res.partner", "create", {"name": f"Revoking Customer {suffix}", "is_company": True})
    contact_id = admin("res.partner", "create", {"name": f"Rita Revoke {suffix}", "parent_id": partner_id})
    token_id, stripe_customer = localstripe.save_card(admin, partner_id)
    mandate_id = admin("psa.payment.mandate", "create", {"partner_id": partner_id, "token_id": token_id})
    invoice = _posted_invoice(admin, partner_id, amount=75.0)
    portal_rpc = create_user(admin, odoo_server, "race-portal", ["base.group_portal"], partner_id=contact_id)
    browser = PortalSession(odoo_server.url, odoo_server.dbname, portal_rpc.login, portal_rpc.password)
    token = browser.csrf_token("/my/autopay")

    def act(index):
        if index == 0:
            return browser.post(f"/my/autopay/{mandate_id}/revoke", {"csrf_token": token})
        try:
            return _rpc(admin)("account.move", "action_psa_charge_now", [invoice])
        except xmlrpc.client.Fault as fault:
            return fault

    revoked, charged = at_once(2, act)
    assert revoked in (200, 303), revoked  # redirected back to /my/autopay
    assert admin("psa.payment.mandate", "read", [mandate_id], fields=["state"])[0]["state"] == "revoked"
    intents = localstripe.intents(stripe_customer)
    attempts = admin("psa.payment.attempt", "search_read", [("move_id", "=", invoice)], fields=["state"])
    if isinstance(charged, xmlrpc.client.Fault):
        # the revocation came first: refused in words, nothing sent to Stripe
        assert "no active auto-pay mandate" in charged.faultString, charged.faultString
        assert not intents and not attempts
    else:
        assert len(intents) == 1 and len(attempts) == 1, (intents, attempts)
    # after the revocation, pressing the button again is refused and charges nothing more
    with pytest.raises(xmlrpc.client.Fault, match="no active auto-pay mandate"):
        admin("account.move", "action_psa_charge_now", [invoice])
    assert len(localstripe.intents(stripe_customer)) == len(intents)


def test_payment_link_button_pressed_twice_at_once_sends_one_email(admin, no_new_error_lines):
    """The payment link sent twice at once (integrators' call; the button opens a composer, guarded the same
    way): one e-mail to the customer, one note on the invoice."""
    partner_id = admin(
        "res.partner", "create", {"name": f"Link Customer {uuid.uuid4().hex[:6]}", "email": "ap@link.example"}
    )
    invoice = _posted_invoice(admin, partner_id)

    def press(_index):
        return _rpc(admin)("account.move", "action_psa_send_payment_link_now", [invoice])

    results = at_once(2, press)
    assert not [r for r in results if isinstance(r, Exception)], results
    mails = admin(
        "mail.mail",
        "search_count",
        [("model", "=", "account.move"), ("res_id", "=", invoice), ("recipient_ids", "in", [partner_id])],
    )
    sent = admin(
        "mail.message",
        "search_count",
        [("model", "=", "account.move"), ("res_id", "=", invoice), ("body", "ilike", "Payment link sent")],
    )
    assert (mails, sent) == (1, 1), f"{mails} e-mail(s), {sent} note(s) for one double click"


# ------------------------------------------------------------------------------------------------
# Prepaid funds: a top-up quotation confirmed twice at once
# ------------------------------------------------------------------------------------------------
def test_topup_quotation_confirmed_twice_at_once_adds_once(admin, no_new_error_lines):
    """Two people (or a double click) confirm the same top-up quotation at once: the hours are added to the
    fund once; the second confirmation gets the answer a later one would get."""
    partner_id = admin("res.partner", "create", {"name": f"Topup Customer {uuid.uuid4().hex[:6]}", "is_company": True})
    product_id = admin(
        "product.product",
        "create",
        {
            "name": "Prepaid support hour",
            "type": "service",
            "uom_id": ref(admin, "uom.product_uom_hour"),
            "uom_po_id": ref(admin, "uom.product_uom_hour"),
            "list_price": 90.0,
            "taxes_id": [(5, 0, 0)],
        },
    )
    fund_id = admin(
        "psa.prepaid.fund",
        "create",
        {
            "name": "Prepaid hours",
            "partner_id": partner_id,
            "initial_quantity": 10.0,
            "topup_enabled": True,
            "topup_quantity": 5.0,
            "topup_product_id": product_id,
        },
    )
    admin("psa.prepaid.fund", "action_psa_raise_topup", [fund_id])
    [order_id] = admin("sale.order", "search", [("psa_topup_fund_id", "=", fund_id)])

    def initial_quantity():
        return admin("psa.prepaid.fund", "read", [fund_id], fields=["initial_quantity"])[0]["initial_quantity"]

    before = initial_quantity()

    def confirm(_index):
        return _rpc(admin)("sale.order", "action_confirm", [order_id])

    results = at_once(2, confirm)
    after = initial_quantity()
    assert after == before + 5.0, (before, after, results)
    assert admin("sale.order", "read", [order_id], fields=["state"])[0]["state"] == "sale"
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) <= 1 and all(isinstance(r, xmlrpc.client.Fault) for r in refused), results


# ------------------------------------------------------------------------------------------------
# Overdue reminders: two workers send the same day's reminders at once
# ------------------------------------------------------------------------------------------------
def test_overdue_reminders_run_twice_at_once_send_each_level_once(admin, no_new_error_lines):
    """Two scheduler workers run "send overdue reminders" at the same moment (and it runs again later): each
    overdue invoice gets its level once, its customer one e-mail, and no failed query is logged."""
    suffix = uuid.uuid4().hex[:6]
    partner_id = admin(
        "res.partner", "create", {"name": f"Slow Payer {suffix}", "is_company": True, "email": "ap@slow.example"}
    )
    held_id = admin(
        "res.partner",
        "create",
        {
            "name": f"Held Payer {suffix}",
            "is_company": True,
            "email": "ap@held.example",
            "psa_billing_hold": True,
            "psa_billing_hold_reason": "contract renegotiation",
        },
    )
    invoice_date = date.fromordinal(date.today().toordinal() - 45)
    due = date.fromordinal(date.today().toordinal() - 4)  # 4 days overdue: level 1 of 3,10,30
    invoices = []
    for customer_id, amount in ((partner_id, 120.0), (partner_id, 80.0), (held_id, 60.0)):
        invoice = admin(
            "account.move",
            "create",
            {
                "move_type": "out_invoice",
                "partner_id": customer_id,
                "invoice_date": str(invoice_date),
                "invoice_date_due": str(due),
                "invoice_payment_term_id": False,
                "invoice_line_ids": [
                    (0, 0, {"name": "Managed services", "price_unit": amount, "tax_ids": [(5, 0, 0)]})
                ],
            },
        )
        invoices.append(invoice)
    admin("account.move", "action_post", invoices)
    held_invoice = invoices.pop()
    cron = ref(admin, "psa_payments.ir_cron_send_overdue_reminders")
    # a second scheduled action with the same code stands for a second worker (one cron row is locked by its run)
    [twin] = admin("ir.cron", "copy", [cron], {"name": f"PSA: send overdue reminders (twin {suffix})"})

    def run(index):
        return _rpc(admin)("ir.cron", "method_direct_trigger", [[cron, twin][index]])

    failures = [str(result) for result in at_once(2, run) if isinstance(result, Exception)]
    assert not failures, "\n".join(failures)
    admin("ir.cron", "method_direct_trigger", [cron])  # a rerun later the same day
    admin("ir.cron", "unlink", [twin])
    lines = admin(
        "account.invoice.overdue.reminder",
        "search_read",
        [("invoice_id", "in", invoices), ("psa_level", ">", 0)],
        fields=["invoice_id", "psa_level"],
    )
    assert sorted((line["invoice_id"][0], line["psa_level"]) for line in lines) == sorted((i, 1) for i in invoices)
    actions = admin("overdue.reminder.action", "search", [("commercial_partner_id", "=", partner_id)])
    mails = admin("mail.mail", "search_count", [("model", "=", "overdue.reminder.action"), ("res_id", "in", actions)])
    assert (len(actions), mails) == (1, 1), f"{len(actions)} reminder(s), {mails} e-mail(s) for one level"
    # both runs decided "on hold" for the held customer's invoice at the same moment: said once
    notes = admin(
        "mail.message",
        "search_count",
        [("model", "=", "account.move"), ("res_id", "=", held_invoice), ("body", "ilike", "customer on hold")],
    )
    assert notes == 1, f"{notes} notes"
    assert not admin("overdue.reminder.action", "search", [("commercial_partner_id", "=", held_id)])
