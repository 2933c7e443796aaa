"""End-to-end fixtures: a live Odoo server on loopback, driven over XML-RPC like an integrator would.

``make test`` installs the add-ons in a fresh database and exports its connection settings (PSA_DB_*);
the ``odoo_server`` fixture starts Odoo's HTTP server on a free loopback port against that database and
stops it at the end. Point PSA_ODOO_URL at a running server to skip starting one.

Fast loop: ``PSA_DEV_PG=<dev cluster> python3 scripts/psa_dev.py test --only-e2e --no-install [-k expr]``.

Server logs: every start of a server writes its own file (``odoo-http-<port>-<n>.log`` in PSA_WORK_DIR) and
the ERROR/CRITICAL lines of all of them fail the suite, like the Odoo runner phase. The fault tests kill a
server with SIGKILL, which leaves no line behind, so nothing is excused: a restarted server that logs an
ERROR while resuming fails the suite too.

Helpers for the scenarios: ``create_user`` (a user with exactly the groups named), ``trigger_cron`` (runs a
scheduled action as the scheduler would; a billing cron's also waits for its runs), ``wait_for_billing_run(s)``
(a run's batches are queue jobs the server's job runner runs after the confirm returns: polls until it is done),
``post_json`` / ``rmm_headers`` (signed HTTP posts) and the ``localstripe`` fixture (a Stripe-compatible server
on loopback, Odoo's Stripe provider pointed at it).
``bench/bench_rmm_events.py`` imports ``OdooServer``, ``post_json`` and ``rmm_headers`` from here too.
"""

import hashlib
import hmac
import itertools
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xmlrpc.client
from pathlib import Path

import pytest

# tests/addons holds add-ons installed by ``make test`` (their Odoo tests run in Odoo's runner, not here)
collect_ignore = ["addons"]
# Odoo's command line as a file: the multi-process server starts its websocket worker as ``sys.argv[0] gevent``
ODOO_LAUNCHER = str(Path(__file__).resolve().parents[1] / "scripts" / "odoo_launcher.py")
ODOO_ERROR_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (ERROR|CRITICAL) ")
REPO = Path(__file__).resolve().parents[1]
LOCALSTRIPE_SCRIPT = REPO / "scripts" / "localstripe_psa.py"
STRIPE_SECRET_KEY = "sk_test_psa_e2e"
STRIPE_WEBHOOK_SECRET = "whsec_psa_e2e"
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"  # attaches fine, every charge is declined (localstripe)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OdooServer:
    """A started Odoo HTTP server; ``restart()`` and ``kill()`` serve the fault tests.

    ``workers``: 0 is Odoo's threaded server, more is its multi-process (prefork) server with that many HTTP
    worker processes. ``job_runner``: queue_job's job runner runs in this server (a thread of the threaded
    server, a process of its own in prefork; it hands each job to one of this server's workers over HTTP).
    queue_job runs ONE job runner per database (a PostgreSQL advisory lock elects it; another one waits), so a
    second server on the session's database starts without it unless it is to take over.
    """

    def __init__(self, config, dbname, python, workers=0, job_runner=True, env=None, extra_args=()):
        self.config = config
        self.dbname = dbname
        self.python = python
        self.workers = workers
        self.job_runner = job_runner
        self.env = env or {}
        self.extra_args = list(extra_args)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.starts = itertools.count(1)
        self.log_paths = []
        self.log_path = None

    def start(self, timeout=180):
        # One log per start: the log of a killed server ends where it was killed, the next start begins
        # a fresh file; ``error_lines()`` reads them all.
        self.log_path = os.path.join(
            os.environ.get("PSA_WORK_DIR", "/tmp"), f"odoo-http-{self.port}-{next(self.starts)}.log"
        )
        self.log_paths.append(self.log_path)
        log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115 - kept for the process' lifetime
        self.proc = subprocess.Popen(
            [
                self.python,
                ODOO_LAUNCHER,
                "-c",
                self.config,
                "-d",
                self.dbname,
                "--db-filter",
                f"^{self.dbname}$",
                "--http-interface",
                "127.0.0.1",
                "--http-port",
                str(self.port),
                "--max-cron-threads",
                "0",
                "--workers",
                str(self.workers),
                *self.extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            # a root channel of capacity 0 keeps queue_job's runner from starting (queue_job's own switch)
            env={**os.environ, **self.env, **({} if self.job_runner else {"ODOO_QUEUE_JOB_CHANNELS": "root:0"})},
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Odoo exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/web/login", timeout=5) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"Odoo did not answer on {self.url} within {timeout}s; see {self.log_path}")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def restart(self, job_runner=None):
        """Kill and start again (``job_runner``: with or without queue_job's runner from now on)."""
        self.kill()
        if job_runner is not None:
            self.job_runner = job_runner
        return self.start()

    def error_lines(self):
        """ERROR and CRITICAL lines of every log this server wrote (one per start)."""
        errors = []
        for path in self.log_paths:
            with open(path, encoding="utf-8", errors="replace") as log:
                errors += [line for line in log if ODOO_ERROR_LINE.match(line)]
        return errors


class Rpc:
    """XML-RPC session of one user (``execute_kw`` with keyword arguments)."""

    def __init__(self, url, dbname, login, password):
        self.url = url
        self.dbname = dbname
        self.login = login
        self.password = password
        self.common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common", allow_none=True)
        self.models = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object", allow_none=True)
        self.uid = self.common.authenticate(dbname, login, password, {})
        if not self.uid:
            raise PermissionError(f"login {login!r} refused")

    def __call__(self, model, method, *args, **kwargs):
        return self.models.execute_kw(self.dbname, self.uid, self.password, model, method, list(args), kwargs)


@pytest.fixture(scope="session")
def odoo_server():
    if os.environ.get("PSA_ODOO_URL"):
        server = OdooServer(None, os.environ["PSA_DB_NAME"], sys.executable)
        server.url = os.environ["PSA_ODOO_URL"]
        yield server
        return
    config = os.environ.get("PSA_ODOO_CONFIG")
    if not config:
        pytest.skip("no database prepared: run these tests through `make test`")
    server = OdooServer(config, os.environ["PSA_DB_NAME"], os.environ.get("PSA_ODOO_PYTHON", sys.executable))
    server.start()
    yield server
    server.stop()
    check_server_log(server)


def check_server_log(server):
    """Like the Odoo runner phase: an ERROR or CRITICAL line in a server's log fails the suite."""
    errors = server.error_lines()
    if errors:
        pytest.fail(f"{len(errors)} ERROR/CRITICAL line(s) in {', '.join(server.log_paths)}:\n" + "".join(errors[:20]))


@pytest.fixture(scope="session")
def admin(odoo_server):
    return Rpc(odoo_server.url, odoo_server.dbname, "admin", os.environ.get("PSA_ADMIN_PASSWORD", "admin"))


# ------------------------------------------------------------------------------------------------
# Helpers shared by the scenarios: users, references, crons, HTTP posts, localstripe
# ------------------------------------------------------------------------------------------------
def ref(rpc, xmlid):
    """The database id of an XML id (``module.name``), read over XML-RPC."""
    module, name = xmlid.split(".", 1)
    rows = rpc("ir.model.data", "search_read", [("module", "=", module), ("name", "=", name)], fields=["res_id"])
    if not rows:
        raise LookupError(xmlid)
    return rows[0]["res_id"]


def create_user(admin, odoo_server, login, groups, **values):
    """A user with exactly the groups named (XML ids), logged in over XML-RPC; returns its ``Rpc``."""
    login = f"{login}-{uuid.uuid4().hex[:6]}"
    admin(
        "res.users",
        "create",
        {
            "name": login.replace("-", " ").title(),
            "login": login,
            "password": login,
            "groups_id": [(6, 0, [ref(admin, group) for group in groups])],
            **values,
        },
    )
    return Rpc(odoo_server.url, odoo_server.dbname, login, login)


# the scheduled actions that bill: their runs' batches are queue jobs, run after the cron returns
BILLING_RUN_CRONS = {
    "psa_timesheet_billing.ir_cron_psa_billing_run_monthly",
    "psa_timesheet_billing.ir_cron_psa_billing_run_weekly",
    "psa_timesheet_billing.ir_cron_psa_billing_run_as_you_go",
    "psa_timesheet_billing.ir_cron_psa_billing_run_worker",
}


def trigger_cron(admin, xmlid, wait=True):
    """Run a scheduled action now, the way the scheduler would (as the cron's user, its own commits).

    A billing cron only queues its runs' batches: with ``wait`` (the default), this returns once no run whose
    batches are queued is running any more (``wait_for_billing_runs``), as the next scheduled action would find
    them. (A run the monthly cron creates in automatic mode waits for the worker cron to queue its batches.)"""
    result = admin("ir.cron", "method_direct_trigger", [ref(admin, xmlid)])
    if wait and xmlid in BILLING_RUN_CRONS:
        wait_for_billing_runs(admin, [("state", "=", "running"), ("jobs_enqueue_date", "!=", False)])
    return result


def wait_for_billing_runs(rpc, domain, timeout=180, step=0.2):
    """Wait until the billing runs of ``domain`` are no longer running: their batches are queue jobs that the
    server's job runner hands to its workers, so a confirm (or a cron) returns before they are billed.
    Returns the runs read (``state``, ``invoice_ids``, ``amount_billed``)."""
    deadline = time.monotonic() + timeout
    fields = ["state", "invoice_ids", "amount_billed"]
    while True:
        runs = rpc("psa.billing.run", "search_read", domain, fields=fields)
        if not any(run["state"] == "running" for run in runs):
            return runs
        if time.monotonic() > deadline:
            running = [run["id"] for run in runs if run["state"] == "running"]
            jobs = rpc(
                "queue.job",
                "search_read",
                [("psa_billing_run_id", "in", running)],
                fields=["state", "method_name", "exc_message"],
            )
            raise AssertionError(f"billing runs {running} still running after {timeout}s; their jobs: {jobs}")
        time.sleep(step)


def wait_for_billing_run(rpc, run_id, timeout=180):
    """``wait_for_billing_runs`` for one run; returns it read."""
    return wait_for_billing_runs(rpc, [("id", "=", run_id)], timeout=timeout)[0]


def post_json(url, body, headers, timeout=60):
    """POST raw bytes as JSON; return (status, decoded JSON answer or raw bytes)."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw or b"null")
        except ValueError:
            return error.code, raw


def rmm_headers(secret, body, timestamp=None):
    """The RMM endpoint's signature headers: HMAC-SHA256 of ``"<timestamp>.<raw body>"``."""
    timestamp = str(timestamp or int(time.time()))
    signature = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-PSA-Timestamp": timestamp, "X-PSA-Signature": f"sha256={signature}"}


class LocalStripe:
    """A localstripe server on loopback (the project's launcher, ``scripts/localstripe_psa.py``)."""

    def __init__(self):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, str(LOCALSTRIPE_SCRIPT), "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                self.stats()
                return self
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("localstripe did not start") from None
                time.sleep(0.2)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def stats(self):
        with urllib.request.urlopen(f"{self.url}/_config/psa/stats", timeout=2) as response:
            return json.loads(response.read())

    def api(self, method, path, data=None):
        body = urllib.parse.urlencode(data or {}).encode() if method != "GET" else None
        query = f"?{urllib.parse.urlencode(data)}" if method == "GET" and data else ""
        request = urllib.request.Request(
            f"{self.url}/v1/{path}{query}",
            data=body,
            method=method,
            headers={"Authorization": f"Bearer {STRIPE_SECRET_KEY}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def intents(self, customer_ref):
        """Payment intents (charges) made for one Stripe customer."""
        intents = self.api("GET", "payment_intents", {"limit": 100})["data"]
        return [intent for intent in intents if intent.get("customer") == customer_ref]

    def save_card(self, admin, partner_id, card_number=GOOD_CARD):
        """The customer's saved card: a Stripe customer and payment method, and Odoo's token for them."""
        customer = self.api("POST", "customers", {"name": f"partner {partner_id}"})
        method = self.api(
            "POST",
            "payment_methods",
            {
                "type": "card",
                "card[number]": card_number,
                "card[exp_month]": 12,
                "card[exp_year]": 2030,
                "card[cvc]": "123",
            },
        )
        self.api("POST", f"payment_methods/{method['id']}/attach", {"customer": customer["id"]})
        token_id = admin(
            "payment.token",
            "create",
            {
                "provider_id": ref(admin, "payment.payment_provider_stripe"),
                "payment_method_id": ref(admin, "payment.payment_method_card"),
                "payment_details": card_number[-4:],
                "partner_id": partner_id,
                "provider_ref": customer["id"],
                "stripe_payment_method": method["id"],
            },
        )
        return token_id, customer["id"]


def configure_stripe(admin, api_base):
    """Point Odoo's Stripe provider (test mode) and the auto-pay API root at ``api_base``."""
    admin("ir.config_parameter", "set_param", "psa_payments.stripe_api_base", f"{api_base}/v1/")
    admin("ir.config_parameter", "set_param", "psa_payments.stripe_timeout", "5")
    card = ref(admin, "payment.payment_method_card")
    admin(
        "payment.provider",
        "write",
        [ref(admin, "payment.payment_provider_stripe")],
        {
            "state": "test",
            "stripe_secret_key": STRIPE_SECRET_KEY,
            "stripe_publishable_key": "pk_test_psa_e2e",
            "stripe_webhook_secret": STRIPE_WEBHOOK_SECRET,
            "payment_method_ids": [(4, card)],
        },
    )
    admin("payment.method", "write", [card], {"active": True})


@pytest.fixture(scope="session")
def localstripe(admin):
    """localstripe on loopback, Odoo's Stripe provider pointed at it for the whole session."""
    server = LocalStripe().start()
    configure_stripe(admin, server.url)
    yield server
    server.stop()
