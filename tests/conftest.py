"""End-to-end fixtures: a live Odoo server on loopback, driven over XML-RPC like an integrator would.

``make test`` installs the add-ons in a fresh database and exports its connection settings (PSA_DB_*);
the ``odoo_server`` fixture starts Odoo's HTTP server on a free loopback port against that database and
stops it at the end. Point PSA_ODOO_URL at a running server to skip starting one.
"""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import xmlrpc.client

import pytest

ODOO_MAIN = "import odoo.cli, sys; sys.exit(odoo.cli.main())"
ODOO_ERROR_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (ERROR|CRITICAL) ")


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OdooServer:
    """A started Odoo HTTP server; ``restart()`` and ``kill()`` serve the fault tests."""

    def __init__(self, config, dbname, python):
        self.config = config
        self.dbname = dbname
        self.python = python
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.log_path = os.path.join(os.environ.get("PSA_WORK_DIR", "/tmp"), f"odoo-http-{self.port}.log")

    def start(self, timeout=180):
        log = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115 - kept for the process' lifetime
        self.proc = subprocess.Popen(
            [
                self.python,
                "-c",
                ODOO_MAIN,
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
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
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

    def restart(self):
        self.kill()
        return self.start()


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
    # Like the Odoo runner phase: an ERROR or CRITICAL line in the server's log fails the suite.
    with open(server.log_path, encoding="utf-8", errors="replace") as log:
        errors = [line for line in log if ODOO_ERROR_LINE.match(line)]
    if errors:
        pytest.fail(f"{len(errors)} ERROR/CRITICAL line(s) in {server.log_path}:\n" + "".join(errors[:20]))


@pytest.fixture(scope="session")
def admin(odoo_server):
    return Rpc(odoo_server.url, odoo_server.dbname, "admin", os.environ.get("PSA_ADMIN_PASSWORD", "admin"))
