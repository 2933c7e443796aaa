"""Faults: the cycle survives a killed server, a declining and a silent Stripe, and two cron workers at once.

A second Odoo server is started on the same database for the kills (``fault_server``): it is killed with
SIGKILL in the middle of a payment run while the session's server keeps answering the test's progress polls,
then restarted; the crons are run again. (A billing run's batches are queue jobs: the worker killed in the
middle of one is ``test_billing_jobs.py``'s.) Each start writes its own log; the logs of
every start are checked for ERROR lines at the end (a SIGKILL leaves no line behind).

Afterwards: no invoice or charge twice (localstripe's payment intents are counted too), nothing missing,
totals to the cent.
"""

import json
import os
import socket
import sys
import threading
import time
import urllib.request
import uuid
import xmlrpc.client
from datetime import date

import pytest
from _jobs import wait_for_jobs
from conftest import DECLINED_CARD, OdooServer, Rpc, check_server_log, trigger_cron

PAYMENTS_CHANNEL = "root.psa.payments"

BATCH_PARAM = "psa_timesheet_billing.run_batch_size"
API_BASE_PARAM = "psa_payments.stripe_api_base"
CRON_BUSY = "currently being executed"


@pytest.fixture(scope="module")
def fault_server(odoo_server):
    """A second server on the session's database, the one the fault tests kill (the session's server keeps
    the job runner: the jobs queued through this one run there)."""
    config = os.environ.get("PSA_ODOO_CONFIG")
    if not config:
        pytest.skip("the fault tests start their own server: run them through `make test`")
    server = OdooServer(config, odoo_server.dbname, os.environ.get("PSA_ODOO_PYTHON", sys.executable), job_runner=False)
    server.start()
    yield server
    server.stop()
    check_server_log(server)


def _admin_of(server):
    return Rpc(server.url, server.dbname, "admin", os.environ.get("PSA_ADMIN_PASSWORD", "admin"))


def _in_thread(call, *args):
    """Run an XML-RPC call in a thread; the outcome (result or exception) lands in the returned dict."""
    outcome = {}

    def target():
        try:
            outcome["result"] = call(*args)
        except Exception as error:  # noqa: BLE001 - the caller inspects it (a killed server, a busy cron)
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    outcome["thread"] = thread
    return outcome


def _wait_until(condition, timeout=60, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"not reached within {timeout}s")


def _customer(admin, name):
    return admin("res.partner", "create", {"name": f"{name} {uuid.uuid4().hex[:6]}", "is_company": True})


def _fixed_fee_orders(admin, partner_id, prices):
    """Confirmed orders of one fixed fee each (invoiced on order, no tax), one per price."""
    product = admin(
        "product.product",
        "create",
        {
            "name": f"Fixed fee {uuid.uuid4().hex[:6]}",
            "type": "service",
            "invoice_policy": "order",
            "service_tracking": "no",
            "taxes_id": [(5, 0, 0)],
        },
    )
    order_ids = admin(
        "sale.order",
        "create",
        [
            {"partner_id": partner_id, "order_line": [(0, 0, {"product_id": product, "price_unit": price})]}
            for price in prices
        ],
    )
    admin("sale.order", "action_confirm", order_ids)
    return order_ids


def _invoices_by_order(admin, order_ids):
    orders = admin("sale.order", "read", order_ids, fields=["invoice_ids"])
    return {order["id"]: order["invoice_ids"] for order in orders}


def _billing_run(admin, partner_id):
    # period end today: the month's company-wide run (monthly cron, last month's end) stays the cron's
    return admin(
        "psa.billing.run",
        "create",
        {"mode": "automatic", "partner_ids": [(6, 0, [partner_id])], "period_end": str(date.today())},
    )


def _due_invoices(admin, partner_id, amounts):
    """Posted customer invoices due today, no tax."""
    move_ids = admin(
        "account.move",
        "create",
        [
            {
                "move_type": "out_invoice",
                "partner_id": partner_id,
                "invoice_date": str(date.today()),
                "invoice_date_due": str(date.today()),
                "invoice_line_ids": [(0, 0, {"name": "Managed support", "price_unit": amount, "tax_ids": [(5, 0, 0)]})],
            }
            for amount in amounts
        ],
    )
    admin("account.move", "action_post", move_ids)
    return move_ids


def _autopay_customer(admin, localstripe, name, card=None):
    partner_id = _customer(admin, name)
    token_id, stripe_customer = localstripe.save_card(admin, partner_id, *([card] if card else []))
    admin("psa.payment.mandate", "create", {"partner_id": partner_id, "token_id": token_id})
    return partner_id, stripe_customer


def _charged_once_and_paid(admin, localstripe, stripe_customer, move_ids):
    moves = admin("account.move", "read", move_ids, fields=["name", "amount_total", "payment_state", "amount_residual"])
    intents = localstripe.intents(stripe_customer)
    by_reference = {}
    for intent in intents:
        by_reference.setdefault(intent["description"], []).append(intent)
    transactions = admin(
        "payment.transaction",
        "search_read",
        [("invoice_ids", "in", move_ids)],
        fields=["reference", "amount", "state", "invoice_ids"],
    )
    assert len(intents) == len(move_ids), "one payment intent per invoice, never two"
    assert {t["state"] for t in transactions} == {"done"}
    assert sorted(i["amount"] for i in intents) == sorted(round(m["amount_total"] * 100) for m in moves)
    assert all(len(by_reference.get(t["reference"], [])) == 1 for t in transactions)
    assert {m["payment_state"] for m in moves} <= {"paid", "in_payment"}
    assert all(m["amount_residual"] == 0.0 for m in moves)


# ------------------------------------------------------------------------------------------------
# A server killed in the middle of a payment run (a worker killed in the middle of a billing run's batch:
# ``test_billing_jobs.py``)
# ------------------------------------------------------------------------------------------------
def test_payment_job_killed_midway_charges_once(admin, odoo_server, fault_server, localstripe):
    """A job worker is killed while Stripe holds the answer of the charge it sent: queue_job requeues the dead
    job, a worker runs it again with the same idempotency key, Stripe answers with the first charge."""
    partner_id, stripe_customer = _autopay_customer(admin, localstripe, "Killed Autopay Customer")
    amounts = [210.01, 220.02, 230.03, 240.04, 250.05]
    move_ids = _due_invoices(admin, partner_id, amounts)
    before = localstripe.stats()
    # Stripe takes the first charge, then holds its answer: the server running that job is killed while it waits.
    request = urllib.request.Request(
        f"{localstripe.url}/_config/psa/delay",
        data=json.dumps({"seconds": 30}).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=5).close()
    trigger_cron(admin, "psa_payments.ir_cron_charge_due_invoices")
    _wait_until(lambda: localstripe.stats()["created"] > before["created"])
    running = admin(
        "queue.job",
        "search_read",
        [("channel", "=", PAYMENTS_CHANNEL), ("state", "=", "started")],
        fields=["worker_pid"],
    )
    pids = {job["worker_pid"] for job in running}
    killed = [server for server in (odoo_server, fault_server) if server.proc.pid in pids]
    assert killed, f"the held charge runs on one of the servers: {running}"
    for server in killed:
        server.kill()
    for server in killed:
        server.start()
    wait_for_jobs(admin, PAYMENTS_CHANNEL, timeout=240)
    _charged_once_and_paid(admin, localstripe, stripe_customer, move_ids)
    # one payment intent per invoice of this customer: _charged_once_and_paid (the cron also charges what other
    # tests left due, so localstripe's global count is not this test's)
    stats = localstripe.stats()
    assert stats["replayed"] > before["replayed"], "the killed job's charge was answered from its idempotency key"


# ------------------------------------------------------------------------------------------------
# Stripe declining, then Stripe not answering
# ------------------------------------------------------------------------------------------------
def test_declined_card_fails_with_a_reason_and_is_not_retried_at_once(admin, localstripe):
    partner_id, stripe_customer = _autopay_customer(admin, localstripe, "Declined Customer", card=DECLINED_CARD)
    (move_id,) = _due_invoices(admin, partner_id, [75.5])
    trigger_cron(admin, "psa_payments.ir_cron_charge_due_invoices")
    wait_for_jobs(admin, PAYMENTS_CHANNEL)
    trigger_cron(admin, "psa_payments.ir_cron_charge_due_invoices")
    wait_for_jobs(admin, PAYMENTS_CHANNEL)
    attempts = admin(
        "psa.payment.attempt",
        "search_read",
        [("move_id", "=", move_id)],
        fields=["state", "provider_reason", "next_retry_date"],
    )
    assert [a["state"] for a in attempts] == ["failed"], "declined once, the retry waits for its day"
    assert attempts[0]["provider_reason"]
    assert attempts[0]["next_retry_date"] > str(date.today())
    move = admin("account.move", "read", [move_id], fields=["payment_state", "amount_residual"])[0]
    assert move["payment_state"] == "not_paid" and move["amount_residual"] == 75.5
    assert len(localstripe.intents(stripe_customer)) == 1


class _SilentServer:
    """Accepts connections on loopback and never answers (a provider that hangs)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                connection, _address = self.sock.accept()
            except OSError:
                return
            self.held.append(connection)

    def close(self):
        for connection in self.held:
            connection.close()
        self.sock.close()


def test_silent_stripe_leaves_the_charge_unknown_then_charges_once(admin, localstripe):
    partner_id, stripe_customer = _autopay_customer(admin, localstripe, "Timeout Customer")
    (move_id,) = _due_invoices(admin, partner_id, [88.88])
    silent = _SilentServer()
    admin("ir.config_parameter", "set_param", API_BASE_PARAM, f"{silent.url}/v1/")
    try:
        started = time.monotonic()
        trigger_cron(admin, "psa_payments.ir_cron_charge_due_invoices")
        wait_for_jobs(admin, PAYMENTS_CHANNEL)
        assert time.monotonic() - started < 60, "the provider's silence is bounded by the timeout"
    finally:
        admin("ir.config_parameter", "set_param", API_BASE_PARAM, f"{localstripe.url}/v1/")
        silent.close()
    attempt = admin(
        "psa.payment.attempt", "search_read", [("move_id", "=", move_id)], fields=["state", "provider_reason"]
    )
    assert [a["state"] for a in attempt] == ["unknown"]
    assert "No answer" in attempt[0]["provider_reason"]
    assert localstripe.intents(stripe_customer) == []
    for _run in range(2):
        trigger_cron(admin, "psa_payments.ir_cron_charge_due_invoices")
        wait_for_jobs(admin, PAYMENTS_CHANNEL)
    _charged_once_and_paid(admin, localstripe, stripe_customer, [move_id])


# ------------------------------------------------------------------------------------------------
# Two workers at once
# ------------------------------------------------------------------------------------------------
def _both(calls):
    outcomes = [_in_thread(*call) for call in calls]
    for outcome in outcomes:
        outcome["thread"].join(300)
    errors = [outcome["error"] for outcome in outcomes if "error" in outcome]
    # A worker may find the other one holding the job: Odoo refuses to run a cron twice at once.
    for error in errors:
        assert isinstance(error, xmlrpc.client.Fault) and CRON_BUSY in error.faultString, error
    return outcomes


def test_two_payment_workers_at_once_charge_once(admin, odoo_server, fault_server, localstripe):
    customers = [_autopay_customer(admin, localstripe, f"Race Customer {n}") for n in range(3)]
    moves = {customer: _due_invoices(admin, customer[0], [40.0 + n, 50.0 + n]) for n, customer in enumerate(customers)}
    cron = "psa_payments.ir_cron_charge_due_invoices"
    _both([(trigger_cron, admin, cron), (trigger_cron, _admin_of(fault_server), cron)])
    wait_for_jobs(admin, PAYMENTS_CHANNEL)
    trigger_cron(admin, cron)  # whatever a refused worker left is picked up by the next run
    wait_for_jobs(admin, PAYMENTS_CHANNEL)
    for (_partner_id, stripe_customer), move_ids in moves.items():
        _charged_once_and_paid(admin, localstripe, stripe_customer, move_ids)


def test_two_billing_runs_at_once_bill_once(admin, fault_server):
    prices = [310.0, 320.5, 330.25, 340.75, 350.0, 360.0]
    partner_id = _customer(admin, "Race Billing Customer")
    order_ids = _fixed_fee_orders(admin, partner_id, prices)
    fault_admin = _admin_of(fault_server)
    runs = [_billing_run(admin, partner_id), _billing_run(admin, partner_id)]
    outcomes = [
        _in_thread(admin, "psa.billing.run", "action_confirm", [runs[0]]),
        _in_thread(fault_admin, "psa.billing.run", "action_confirm", [runs[1]]),
    ]
    for outcome in outcomes:
        outcome["thread"].join(300)
    trigger_cron(admin, "psa_timesheet_billing.ir_cron_psa_billing_run_worker")
    by_order = _invoices_by_order(admin, order_ids)
    assert all(len(ids) == 1 for ids in by_order.values()), f"billed once each: {by_order}"
    invoices = admin("account.move", "search_read", [("partner_id", "=", partner_id)], fields=["amount_untaxed"])
    assert round(sum(i["amount_untaxed"] for i in invoices), 2) == round(sum(prices), 2)
    states = admin("psa.billing.run", "read", runs, fields=["state"])
    assert {s["state"] for s in states} <= {"done", "failed"}
