#!/usr/bin/env python3
"""Developer and CI entry point of the PSA suite: ``make test``, ``make run``, ``make lint``.

It runs with the Python that imports Odoo 18 (``ODOO_PYTHON``, else ``python3``) and drives:

* a private PostgreSQL cluster (throwaway for tests, persistent under ``.local/`` for ``run``),
  started without root and without any system service;
* Odoo itself, as a subprocess of that same Python;
* pytest (repository-level end-to-end tests, pytest-odoo) and the linters.

Only the standard library is used here, so that the "no Odoo" case fails with a clear message
instead of a traceback.
"""

import argparse
import atexit
import contextlib
import fcntl
import glob
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADDONS_DIR = os.path.join(REPO, "addons")
PSA_MODULES = ["psa_orders", "psa_timesheet_billing", "psa_payments", "psa_rmm", "psa_dashboard"]
# Installed with our add-ons by ``test`` and ``module`` only, never a manifest dependency: psa_payments proves
# it is provider-agnostic against Odoo's ``payment_demo`` provider.
TEST_EXTRA_MODULES = ["payment_demo"]
# Add-ons kept under tests/addons (examples that prove a plugin point, e.g. a billing source), installed and
# tested with ours by ``test`` only; ``module`` finds them too when named.
TEST_ADDONS_DIR = os.path.join(REPO, "tests", "addons")
TEST_ADDONS = ["psa_billing_source_example"]
LOCAL_DIR = os.path.join(REPO, ".local")
ODOO_MAIN = "import odoo.cli, sys; sys.exit(odoo.cli.main())"
# a served Odoo runs from a file: its multi-process server starts the websocket worker as ``sys.argv[0] gevent``
ODOO_LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "odoo_launcher.py")
# A log line of Odoo is "<date> <time> <pid> <LEVEL> <db> <logger>: <message>".
ODOO_LOG_LEVEL_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (ERROR|CRITICAL) ")
LOG_RECORD_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ ")
ODOO_RESULT_RE = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database")
PYTEST_COUNT_RE = re.compile(r"(\d+) (passed|failed|error|errors)\b")
PYTEST_ODOO_IMPORT = " odoo.tests.common: Importing test framework"

NO_ODOO_MESSAGE = """\
No Python that imports Odoo 18 was found (tried: {python}).

The PSA add-ons are tested against a real Odoo 18.0 and PostgreSQL. Get one of:
  1. Docker:   docker compose -f docker/compose.yml run --rm test
               (the official odoo:18.0 image; nothing to install on this machine)
  2. Odoo 18:  install Odoo 18.0 community for a Python 3.10+ (``pip install -e <odoo-18.0 source>
               --config-settings editable_mode=compat``
               after its requirements.txt), then run ``make test`` again, or point
               ODOO_PYTHON at the interpreter that has it: ODOO_PYTHON=/path/to/python make test
"""


def say(message):
    print(f"[psa] {message}", flush=True)


# --------------------------------------------------------------------------------------------
# Odoo discovery
# --------------------------------------------------------------------------------------------
def check_odoo():
    """Exit with the clear message when this Python cannot import Odoo 18."""
    try:
        import odoo.release

        if odoo.release.version_info[0] != 18:
            raise ImportError(f"Odoo {odoo.release.version} is not 18")
    except Exception as exc:  # noqa: BLE001 - any failure means "no usable Odoo"
        sys.stderr.write(NO_ODOO_MESSAGE.format(python=sys.executable))
        sys.stderr.write(f"\n(reason: {exc})\n")
        sys.exit(3)
    check_openssl()


OPENSSL_MISMATCH_MESSAGE = """\
Odoo 18 is installed, but its mail-server module cannot import pyOpenSSL ({reason}).

This is what happens when installing Odoo itself (pip install -e ...) upgraded ``cryptography`` past the
version Odoo 18 pins for Python < 3.12. Put the pinned pair back, then run the command again:
  {python} -m pip install cryptography==3.4.8 pyopenssl==21.0.0
(see the README, "Odoo installed for a Python").
"""

# Debian packages of the programs Odoo calls: PDFs (invoices, their e-mails) and the browser tests.
SYSTEM_TOOLS = {
    "wkhtmltopdf": ("wkhtmltopdf", "Odoo renders invoice PDFs (and the PDFs of the invoice e-mails) with it"),
    "chromium": ("chromium", "Odoo's browser tests (tours) run in it"),
}


def check_openssl():
    """Exit with the fix when Odoo's mail-server module would not import (cryptography too new for pyOpenSSL)."""
    try:
        from OpenSSL import SSL, crypto  # noqa: F401 - what odoo/addons/base/models/ir_mail_server.py imports
    except (AttributeError, ImportError) as exc:
        sys.stderr.write(OPENSSL_MISMATCH_MESSAGE.format(reason=f"{type(exc).__name__}: {exc}", python=sys.executable))
        sys.exit(3)


def check_system_tools(*names):
    """Exit naming the Debian package of every program Odoo needs here and cannot find on PATH."""
    missing = [name for name in names if not shutil.which(name)]
    if not missing:
        return
    for name in missing:
        package, why = SYSTEM_TOOLS[name]
        sys.stderr.write(f"{name} not found on PATH: {why}.\n")
    packages = " ".join(SYSTEM_TOOLS[name][0] for name in missing)
    sys.stderr.write(f"Install it (Debian / Ubuntu): sudo apt-get install {packages}\n")
    sys.exit(6)


def odoo_addons_path(with_test_addons=False):
    """Every folder that holds add-ons: Odoo's own, the OCA wheels' and ours."""
    import odoo

    import odoo.addons

    candidates = list(odoo.addons.__path__)
    odoo_root = os.path.dirname(os.path.dirname(os.path.abspath(odoo.__file__)))
    candidates.append(os.path.join(odoo_root, "addons"))
    # OCA wheels (setuptools-odoo) install into <site-packages>/odoo/addons.
    for entry in sys.path:
        candidates.append(os.path.join(entry, "odoo", "addons"))
    candidates.append(ADDONS_DIR)
    if with_test_addons:
        candidates.append(TEST_ADDONS_DIR)
    paths = []
    for path in candidates:
        path = os.path.realpath(path)
        if path in paths or not os.path.isdir(path):
            continue
        if any(os.path.isfile(os.path.join(path, m, "__manifest__.py")) for m in os.listdir(path)):
            paths.append(path)
    return paths


def install_requirements():
    say("installing Python requirements (requirements-dev.txt)")
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--root-user-action=ignore",
        "-r",
        os.path.join(REPO, "requirements-dev.txt"),
    ]
    started = time.time()
    if subprocess.call(cmd) != 0:
        say("pip could not install requirements-dev.txt")
        sys.exit(4)
    say(f"requirements satisfied in {time.time() - started:.1f}s")


# --------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------
def pg_bindir():
    found = shutil.which("initdb")
    if found:
        return os.path.dirname(os.path.realpath(found))
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if versions:
        return os.path.dirname(versions[0])
    sys.stderr.write("PostgreSQL server binaries (initdb, pg_ctl) not found: install PostgreSQL 13+.\n")
    sys.exit(5)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PgCluster:
    """A private PostgreSQL cluster reachable through a unix socket in its own folder.

    PostgreSQL refuses to run as root: when we are root, the cluster belongs to the
    ``postgres`` system user (or ``nobody``), and we talk to it over its socket as the
    database superuser ``odoo`` with trust authentication (the socket folder is private).
    """

    def __init__(self, base_dir, port=None, persistent=False):
        self.base_dir = base_dir
        self.data_dir = os.path.join(base_dir, "data")
        self.socket_dir = os.path.join(base_dir, "socket")
        self.log_file = os.path.join(base_dir, "postgresql.log")
        self.port = port or free_port()
        self.persistent = persistent
        self.bindir = pg_bindir()
        self.run_as = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                with contextlib.suppress(KeyError):
                    self.run_as = pwd.getpwnam(name)
                    break
        self.started = False

    def _run(self, args, **kwargs):
        kwargs.setdefault("check", True)
        if self.run_as:
            kwargs["user"] = self.run_as.pw_uid
            kwargs["group"] = self.run_as.pw_gid
            kwargs["cwd"] = self.base_dir
        return subprocess.run([os.path.join(self.bindir, args[0]), *args[1:]], **kwargs)

    def _chown(self):
        if self.run_as:
            for root, dirs, files in os.walk(self.base_dir):
                for name in [root, *[os.path.join(root, d) for d in dirs], *[os.path.join(root, f) for f in files]]:
                    os.chown(name, self.run_as.pw_uid, self.run_as.pw_gid)
            # the parent must be traversable for the cluster owner
            os.chmod(self.base_dir, 0o755)

    def start(self):
        os.makedirs(self.socket_dir, exist_ok=True)
        self._chown()
        if not os.path.exists(os.path.join(self.data_dir, "PG_VERSION")):
            say(f"initdb {self.data_dir}")
            self._run(
                ["initdb", "-D", self.data_dir, "-U", "odoo", "--auth=trust", "-E", "UTF8", "--locale=C"],
                stdout=subprocess.DEVNULL,
            )
        options = (
            f"-k {self.socket_dir} -p {self.port} -c listen_addresses='' -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            ["pg_ctl", "-D", self.data_dir, "-l", self.log_file, "-o", options, "-w", "-t", "60", "start"],
            stdout=subprocess.DEVNULL,
        )
        self.started = True
        say(f"PostgreSQL up on socket {self.socket_dir} port {self.port}")

    def stop(self):
        if not self.started:
            return
        self.started = False
        mode = "fast" if self.persistent else "immediate"
        self._run(
            ["pg_ctl", "-D", self.data_dir, "-m", mode, "-w", "stop"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def psql(self, sql, dbname="postgres"):
        return self._run(
            ["psql", "-h", self.socket_dir, "-p", str(self.port), "-U", "odoo", "-d", dbname, "-tAc", sql],
            capture_output=True,
            text=True,
        ).stdout.strip()

    def env(self):
        """Connection settings for child processes (tests read them)."""
        return {
            "PSA_DB_HOST": self.socket_dir,
            "PSA_DB_PORT": str(self.port),
            "PSA_DB_USER": "odoo",
            "PGHOST": self.socket_dir,
            "PGPORT": str(self.port),
            "PGUSER": "odoo",
        }


_cleanups = []


def _run_cleanups(*_args):
    while _cleanups:
        func = _cleanups.pop()
        with contextlib.suppress(Exception):
            func()


def _on_signal(signum, _frame):
    _run_cleanups()
    sys.exit(128 + signum)


def register_cleanup(func):
    if not _cleanups:
        atexit.register(_run_cleanups)
        signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGHUP, _on_signal)
    _cleanups.append(func)


def throwaway_cluster():
    base = tempfile.mkdtemp(prefix="psa-pg-")
    cluster = PgCluster(base)

    def remove():
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)

    register_cleanup(remove)
    cluster.start()
    return cluster


# --------------------------------------------------------------------------------------------
# Odoo
# --------------------------------------------------------------------------------------------
# Channel capacities of the job runner: root caps the total, each PSA channel caps its automation.
QUEUE_JOB_CHANNELS = "root:2,root.psa.billing:2,root.psa.approval:2,root.psa.payments:2,root.psa.rmm:2"


def write_odoo_config(path, cluster, data_dir, http_port=None, extra=None, test_addons=False, queue_job=None):
    """Odoo's configuration file for ``cluster``; ``extra`` overrides [options], ``queue_job`` adds to
    [queue_job] (the job runner: its channels, and where it sends the jobs)."""
    options = {
        "addons_path": ",".join(odoo_addons_path(with_test_addons=test_addons)),
        "data_dir": data_dir,
        "db_host": cluster.socket_dir,
        "db_port": cluster.port,
        "db_user": "odoo",
        "db_password": "False",
        "admin_passwd": "psa-admin",
        "http_interface": "127.0.0.1",
        "http_port": http_port or free_port(),
        "gevent_port": free_port(),
        "proxy_mode": "False",
        "max_cron_threads": 0,
        "workers": 0,
        "limit_time_real": 600,
        "limit_time_cpu": 600,
        "log_handler": ":INFO,werkzeug:WARNING",
        # queue_job's job runner starts with the server (threaded or prefork) when it is server-wide.
        "server_wide_modules": "base,web,queue_job",
    }
    options.update(extra or {})
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("[options]\n")
        for key, value in options.items():
            handle.write(f"{key} = {value}\n")
        # queue_job's own section: the channels and their capacities (see the README, "Scaling").
        handle.write("\n[queue_job]\n")
        for key, value in {"channels": QUEUE_JOB_CHANNELS, **(queue_job or {})}.items():
            handle.write(f"{key} = {value}\n")
    return path


def run_odoo(config, args, log_path=None, env=None):
    """Run Odoo to completion; return (returncode, log lines)."""
    cmd = [sys.executable, "-c", ODOO_MAIN, "-c", config, *args]
    lines = []
    out = open(log_path, "w", encoding="utf-8") if log_path else None  # noqa: SIM115
    try:
        with subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            env={**os.environ, **(env or {})},
        ) as proc:
            in_error = False  # the traceback lines of an ERROR record carry no timestamp: shown with it
            for line in proc.stdout:
                lines.append(line.rstrip("\n"))
                if out:
                    out.write(line)
                if LOG_RECORD_RE.match(line):
                    in_error = bool(ODOO_LOG_LEVEL_RE.match(line))
                if os.environ.get("PSA_VERBOSE") or in_error or " odoo.tests" in line:
                    sys.stdout.write(line)
            rc = proc.wait()
    finally:
        if out:
            out.close()
    return rc, lines


def error_lines(lines):
    return [line for line in lines if ODOO_LOG_LEVEL_RE.match(line)]


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------
class Tally:
    def __init__(self):
        self.rows = []

    def add(self, name, passed, failed, note=""):
        self.rows.append((name, passed, failed, note))
        say(f"{name}: {passed} passed, {failed} failed {note}".rstrip())

    @property
    def failed(self):
        return sum(row[2] for row in self.rows)

    def finish(self):
        passed = sum(row[1] for row in self.rows)
        print("\n==== PSA test summary ====")
        for name, row_passed, row_failed, note in self.rows:
            print(f"  {name:<28} {row_passed:>5} passed {row_failed:>4} failed  {note}")
        print(f"{passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed else 0


def pytest_counts(output):
    passed = failed = 0
    tail = [line for line in output.splitlines() if line.strip()][-1:] or [""]
    for number, word in PYTEST_COUNT_RE.findall(tail[0]):
        if word == "passed":
            passed += int(number)
        else:
            failed += int(number)
    return passed, failed


def run_pytest(args, env, tally, name, note_started=None, log_path=None):
    """Run pytest and count its tests; with ``log_path`` (Odoo's log file), an ERROR/CRITICAL line in it fails."""
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
    say(" ".join(cmd))
    proc = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, errors="replace")
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    passed, failed = pytest_counts(proc.stdout)
    if proc.returncode not in (0, 5) and not failed:
        failed = 1  # crashed or interrupted: count it
    note = f"({time.time() - note_started:.0f}s)" if note_started else ""
    if log_path and os.path.exists(log_path):
        with open(log_path, encoding="utf-8", errors="replace") as log:
            # pytest-odoo imports Odoo's test framework before configuring it, which Odoo logs as an ERROR
            # record of its own: that one record is known and harmless, every other one fails the phase.
            errors = [line for line in error_lines(line.rstrip("\n") for line in log) if PYTEST_ODOO_IMPORT not in line]
        if errors:
            for line in errors[:40]:
                print("  ", line)
            say(f"{len(errors)} ERROR/CRITICAL line(s) in {log_path}")
            failed = max(failed, 1)
            note = f"{note} {len(errors)} ERROR/CRITICAL log line(s)".strip()
    tally.add(name, passed, failed, note)


def tally_odoo_runner(tally, rc, lines, started, expect_tests=True):
    """Count the Odoo runner's tests; any ERROR/CRITICAL line fails it. False when nothing installed."""
    errors = error_lines(lines)
    results = [m for m in (ODOO_RESULT_RE.search(line) for line in lines) if m]
    if results:
        failed_tests = int(results[-1].group(1)) + int(results[-1].group(2))
        ran = int(results[-1].group(3))
    else:
        failed_tests, ran = 0, 0
    if rc != 0 or errors or (expect_tests and not ran):
        # Any ERROR/CRITICAL line fails the run, even when every test passed.
        failed_tests = max(failed_tests, 1)
        for line in errors[:40]:
            print("  ", line)
        say(f"Odoo exited with {rc}, {len(errors)} ERROR/CRITICAL log line(s), {ran} test(s) ran")
    tally.add("odoo tests (Odoo runner)", ran - min(ran, failed_tests), failed_tests, f"({time.time() - started:.0f}s)")
    return not (rc != 0 and not ran)


# Run by the Odoo Python in a child process: which of the add-ons' Odoo tests Odoo's runner would run
# (standard tags, at or post install), split into HTTP tests (HttpCase: they need Odoo's HTTP server, which
# pytest-odoo does not start) and the others. Prints {"http": [[module, class, method]...], "other": [...]}.
LIST_TESTS_CODE = """
import json, sys
import odoo
odoo.tools.config.parse_config(["-c", sys.argv[1], "--test-enable"])
from odoo.modules.module import initialize_sys_path
initialize_sys_path()
from odoo.tests import HttpCase
from odoo.tests.loader import get_module_test_cases, get_test_modules
from odoo.tests.tag_selector import TagsSelector
standard, at_install, post_install = TagsSelector("standard"), TagsSelector("at_install"), TagsSelector("post_install")
found = {"http": [], "other": []}
for module in sys.argv[2].split(","):
    for test_module in get_test_modules(module):
        for test in get_module_test_cases(test_module):
            if standard.check(test) and (at_install.check(test) or post_install.check(test)):
                kind = "http" if isinstance(test, HttpCase) else "other"
                found[kind].append([test.test_module, test.test_class, test._testMethodName])
print(json.dumps(found))
"""


def list_odoo_tests(config, modules):
    """The add-ons' Odoo tests as {"http": [...], "other": [...]}, each a list of [module, class, method]."""
    proc = subprocess.run(
        [sys.executable, "-c", LIST_TESTS_CODE, config, ",".join(modules)],
        capture_output=True,
        text=True,
        errors="replace",
    )
    if proc.returncode:
        sys.stderr.write(proc.stderr[-4000:])
        say("could not list the add-ons' Odoo tests")
        sys.exit(7)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def http_test_tags(tests):
    """Odoo ``--test-tags`` selecting exactly the HTTP test classes (``/module:Class``), in a stable order."""
    return ",".join(sorted({f"/{module}:{klass}" for module, klass, _method in tests["http"]}))


def cmd_test(options):
    check_odoo()
    check_system_tools("wkhtmltopdf", "chromium")
    if not options.no_install:
        install_requirements()
    tally = Tally()
    work = tempfile.mkdtemp(prefix="psa-test-")
    register_cleanup(lambda: shutil.rmtree(work, ignore_errors=True))
    modules = options.modules or PSA_MODULES
    only_e2e = options.only_e2e
    if only_e2e and os.environ.get("PSA_DEV_PG"):
        # Fast loop: a fresh database copied from the cached dependency template of the developer cluster.
        prepared = dev_database(work)
        if isinstance(prepared, int):
            return prepared
        cluster, dbname, data_dir = prepared
    else:
        cluster, dbname, data_dir = throwaway_cluster(), "psa_test", os.path.join(work, "data")
    config = write_odoo_config(os.path.join(work, "odoo.conf"), cluster, data_dir, test_addons=True)
    log_path = os.path.join(LOCAL_DIR, "logs", "odoo-test.log")
    os.makedirs(os.path.dirname(log_path), exist_ok=True)

    # 1. Install the add-ons in a fresh database with demo data, running their Odoo tests.
    started = time.time()
    test_addons = TEST_ADDONS if not options.modules else []
    install = [
        *["-d", dbname, "-i", ",".join([*modules, *test_addons, *TEST_EXTRA_MODULES])],
        *["--stop-after-init", "--no-http"],
    ]
    if only_e2e:
        say(f"installing {', '.join(modules)} with demo data in a fresh database {dbname} (log: {log_path})")
        rc, lines = run_odoo(config, install, log_path=log_path)
        errors = error_lines(lines)
        for line in errors[:40]:
            print("  ", line)
        tally.add(
            "install with demo", int(not (rc or errors)), int(bool(rc or errors)), f"({time.time() - started:.0f}s)"
        )
        if rc:
            say("the add-ons did not install: skipping the live-server phase")
            return tally.finish()
    else:
        # Each Odoo test runs once: the HTTP tests (HttpCase) in Odoo's runner, which serves them; the others
        # through pytest-odoo below (which skips HttpCase). With --skip-pytest-odoo, Odoo's runner runs them all.
        tests = list_odoo_tests(config, [*modules, *test_addons])
        if options.skip_pytest_odoo:
            tags, what = ",".join(f"/{m}" for m in [*modules, *test_addons]), "their Odoo tests"
        else:
            tags, what = http_test_tags(tests), f"their {len(tests['http'])} HTTP tests"
        say(f"installing {', '.join(modules)} in a fresh database and running {what} (log: {log_path})")
        test_args = ["--test-enable", "--test-tags", tags] if tags else []
        rc, lines = run_odoo(config, [*install, *test_args], log_path=log_path)
        if not tally_odoo_runner(tally, rc, lines, started, expect_tests=bool(tags)):
            say("the add-ons did not install: skipping the live-server phases")
            return tally.finish()
    env = {
        **cluster.env(),
        "PSA_DB_NAME": dbname,
        "PSA_ODOO_CONFIG": config,
        "PSA_ODOO_PYTHON": sys.executable,
        "PSA_WORK_DIR": work,
    }
    # 2. The add-ons' other Odoo tests (transaction cases, unit tests), from pytest (pytest-odoo), on the
    #    installed database. Like the runner phase, any ERROR/CRITICAL line in Odoo's log fails it.
    if not (options.skip_pytest_odoo or only_e2e):
        pytest_log = os.path.join(LOCAL_DIR, "logs", "odoo-pytest.log")
        with contextlib.suppress(FileNotFoundError):
            os.remove(pytest_log)
        pytest_config = write_odoo_config(
            os.path.join(work, "odoo-pytest.conf"),
            cluster,
            os.path.join(work, "data"),
            extra={"test_enable": True, "logfile": pytest_log, "log_level": "warn"},
            test_addons=True,
        )
        started = time.time()
        run_pytest(
            [
                f"--odoo-config={pytest_config}",
                f"--odoo-database={dbname}",
                "--odoo-log-level=warn",  # pytest-odoo's default (critical) would hide the ERROR records
                "-q",
                *[os.path.join(ADDONS_DIR, m, "tests") for m in modules],
                *[os.path.join(TEST_ADDONS_DIR, m, "tests") for m in test_addons],
            ],
            env,
            tally,
            "odoo tests (pytest-odoo)",
            note_started=started,
            log_path=pytest_log,
        )
    # 3. End-to-end tests over XML-RPC against a live server (tests/conftest.py starts it).
    selection = ["-k", options.k] if options.k else []
    started = time.time()
    run_pytest(
        ["-q", "-p", "no:odoo", "--durations=8", *selection, os.path.join(REPO, "tests")],
        env,
        tally,
        "end-to-end (XML-RPC)",
        note_started=started,
    )
    # 4. Linters.
    if not (options.skip_lint or only_e2e):
        for name, ok in run_linters():
            tally.add(f"lint: {name}", int(ok), int(not ok))
    return tally.finish()


def run_linters():
    targets = [p for p in ("addons", "tests", "bench", "scripts") if os.path.isdir(os.path.join(REPO, p))]
    results = []
    for name, cmd in (
        ("ruff check", [sys.executable, "-m", "ruff", "check", *targets]),
        ("ruff format", [sys.executable, "-m", "ruff", "format", "--check", *targets]),
        (
            "pylint-odoo",
            [
                sys.executable,
                "-m",
                "pylint",
                "--rcfile",
                os.path.join(REPO, ".pylintrc"),
                *[os.path.join("addons", m) for m in sorted(os.listdir(ADDONS_DIR)) if not m.startswith(".")],
            ],
        ),
    ):
        say(f"lint: {' '.join(cmd[2:])}")
        ok = subprocess.call(cmd, cwd=REPO) == 0
        results.append((name, ok))
    return results


def cmd_lint(_options):
    results = run_linters()
    for name, ok in results:
        say(f"{name}: {'clean' if ok else 'FAILED'}")
    return 0 if all(ok for _name, ok in results) else 1


def cmd_run(options):
    check_odoo()
    check_system_tools("wkhtmltopdf")
    if not options.no_install:
        install_requirements()
    base = os.path.join(LOCAL_DIR, "pg")
    os.makedirs(base, exist_ok=True)
    cluster = PgCluster(base, port=options.pg_port, persistent=True)
    register_cleanup(cluster.stop)
    cluster.start()
    data_dir = os.path.join(LOCAL_DIR, "filestore")
    config = write_odoo_config(
        os.path.join(LOCAL_DIR, "odoo.conf"),
        cluster,
        data_dir,
        http_port=options.http_port,
        # Odoo's multi-process mode, as in production: 2 HTTP workers (the job runner hands them the jobs of
        # the automation), 1 cron worker, and queue_job's runner as a process of its own (server-wide module)
        extra={"workers": 2, "max_cron_threads": 1, "dbfilter": f"^{options.db}$"},
        # the runner reaches the workers on loopback whatever interface the server listens on
        queue_job={"host": "127.0.0.1", "port": options.http_port},
    )
    dbname = options.db
    exists = cluster.psql(f"SELECT 1 FROM pg_database WHERE datname = '{dbname}'") == "1"
    args = ["-d", dbname]
    if not exists:
        say(f"creating database {dbname} with the five add-ons and demo data (first run only)")
        rc, _lines = run_odoo(config, [*args, "-i", ",".join(PSA_MODULES), "--stop-after-init", "--no-http"])
        if rc != 0:
            say("installation failed, see the log above")
            return rc
    else:
        say(f"database {dbname} kept from the previous run (delete .local/ to start over)")
    print(
        "\n"
        f"  PSA suite: http://localhost:{options.http_port}/web/login\n"
        f"  database:  {dbname}\n"
        "  login:     admin   password: admin\n"
        "  serving:   2 HTTP workers, 1 cron worker, queue_job's job runner (Queue > Jobs shows the jobs)\n",
        flush=True,
    )
    cmd = [sys.executable, ODOO_LAUNCHER, "-c", config, *args, "--http-interface", options.http_interface]
    with subprocess.Popen(cmd) as proc:
        register_cleanup(proc.terminate)
        return proc.wait()


def dev_database(work):
    """A fresh database copied from the cached dependency template of the developer cluster.

    Returns (cluster, dbname, data_dir), or Odoo's exit code when the template could not be built. The
    cluster (``PSA_DEV_PG``, else ``.local/devpg``) is shared between runs and left running; the database is
    dropped at exit.
    """
    base = os.environ.get("PSA_DEV_PG") or os.path.join(LOCAL_DIR, "devpg")
    os.makedirs(base, exist_ok=True)
    lock = open(os.path.join(base, ".lock"), "w")  # noqa: SIM115
    fcntl.flock(lock, fcntl.LOCK_EX)
    port_file = os.path.join(base, "port")
    port = int(open(port_file).read()) if os.path.exists(port_file) else free_port()  # noqa: SIM115
    with open(port_file, "w") as handle:
        handle.write(str(port))
    cluster = PgCluster(base, port=port, persistent=True)
    if not os.path.exists(os.path.join(cluster.socket_dir, f".s.PGSQL.{port}")):
        cluster.start()
    cluster.started = False  # shared between runs: leave it running
    config = write_odoo_config(os.path.join(work, "odoo-template.conf"), cluster, os.path.join(base, "data"))
    deps = external_dependencies(PSA_MODULES)
    template = "tpl_" + hashlib.sha1(",".join(sorted(deps)).encode()).hexdigest()[:10]
    if cluster.psql(f"SELECT 1 FROM pg_database WHERE datname = '{template}'") != "1":
        say(f"building dependency template {template}: {', '.join(sorted(deps))}")
        rc, _lines = run_odoo(config, ["-d", template, "-i", ",".join(sorted(deps)), "--stop-after-init", "--no-http"])
        if rc:
            return rc
    fcntl.flock(lock, fcntl.LOCK_UN)
    dbname = f"dev_{os.getpid()}"
    cluster.psql(f'CREATE DATABASE "{dbname}" TEMPLATE "{template}"')
    filestore = os.path.join(base, "data", "filestore")
    if os.path.isdir(os.path.join(filestore, template)):
        shutil.copytree(os.path.join(filestore, template), os.path.join(filestore, dbname))
    register_cleanup(lambda: cluster.psql(f'DROP DATABASE IF EXISTS "{dbname}"'))
    return cluster, dbname, os.path.join(base, "data")


def cmd_template(options):
    """Prepare (once) a database with every dependency installed, then a copy with our add-ons.

    For fast development loops: ``scripts/psa_dev.py module psa_orders`` reuses the
    dependency template and only installs + tests the named add-on(s).
    """
    check_odoo()
    work = tempfile.mkdtemp(prefix="psa-dev-")
    register_cleanup(lambda: shutil.rmtree(work, ignore_errors=True))
    prepared = dev_database(work)
    if isinstance(prepared, int):
        return prepared
    cluster, dbname, data_dir = prepared
    config = write_odoo_config(os.path.join(work, "odoo.conf"), cluster, data_dir, test_addons=True)
    modules = options.modules or PSA_MODULES
    rc, lines = run_odoo(
        config,
        [
            "-d",
            dbname,
            "-i",
            ",".join([*modules, *TEST_EXTRA_MODULES]),
            "--test-enable",
            "--test-tags",
            ",".join(f"/{m}" for m in modules) if not options.tags else options.tags,
            "--stop-after-init",
            "--no-http",
        ],
        log_path=os.path.join(work, "odoo.log"),
    )
    errors = error_lines(lines)
    results = [m for m in (ODOO_RESULT_RE.search(line) for line in lines) if m]
    summary = results[-1].group(0) if results else "no test result line"
    say(f"exit {rc}; {len(errors)} ERROR/CRITICAL line(s); {summary}")
    return 1 if rc or errors else 0


def cmd_bench(options):
    """Run every ``bench/bench_*.py`` on a fresh database and print one table.

    A bench script gets the database through PSA_DB_* / PSA_ODOO_CONFIG and prints one line per figure:
    ``BENCH {"figure": ..., "ours": ..., "odoo": ..., "unit": ..., "target": ..., "met": true|false|null}``.
    """
    check_odoo()
    scripts = sorted(glob.glob(os.path.join(REPO, "bench", "bench_*.py")))
    if options.only:
        scripts = [s for s in scripts if any(name in os.path.basename(s) for name in options.only)]
    if not scripts:
        say("no bench/bench_*.py script")
        return 1
    work = tempfile.mkdtemp(prefix="psa-bench-")
    register_cleanup(lambda: shutil.rmtree(work, ignore_errors=True))
    cluster = throwaway_cluster()
    config = write_odoo_config(os.path.join(work, "odoo.conf"), cluster, os.path.join(work, "data"))
    dbname = "psa_bench"
    say(f"installing the add-ons without demo data in {dbname}")
    rc, _lines = run_odoo(
        config, ["-d", dbname, "-i", ",".join(PSA_MODULES), "--without-demo", "all", "--stop-after-init", "--no-http"]
    )
    if rc:
        return rc
    # The sizes: 50, 200 and 1,000 orders (Odoo's own invoicing is timed up to 200).
    env = {"PSA_BENCH_SIZES": "50,200,1000", **os.environ, **cluster.env()}
    env["PSA_ODOO_CONFIG"] = config
    rows = []
    for number, script in enumerate(scripts, 1):
        # each script on its own copy of the fresh install: what one bench leaves (10,000 invoices, 100,000
        # time entries) is not the data another one's target is defined on (the reporting bench's 100
        # customers became 14,000 groups after the billing benches)
        copy = f"{dbname}_{number}"
        cluster.psql(f'CREATE DATABASE "{copy}" TEMPLATE "{dbname}"')
        filestore = os.path.join(work, "data", "filestore")
        if os.path.isdir(os.path.join(filestore, dbname)):
            shutil.copytree(os.path.join(filestore, dbname), os.path.join(filestore, copy))
        env["PSA_DB_NAME"] = copy
        say(f"bench: {os.path.relpath(script, REPO)} (database {copy})")
        proc = subprocess.run([sys.executable, script], env=env, capture_output=True, text=True, errors="replace")
        for line in proc.stdout.splitlines():
            if line.startswith("BENCH "):
                rows.append({"script": os.path.basename(script), **json.loads(line[6:])})
            else:
                print("   ", line)
        if proc.returncode:
            sys.stderr.write(proc.stderr[-4000:])
            name = os.path.basename(script)
            rows.append({"script": name, "figure": f"({name} failed, exit {proc.returncode})", "met": False})
        cluster.psql(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
    header = ("figure", "ours", "odoo", "ratio", "target", "met")
    table = []
    for row in rows:
        ours, odoo_value = row.get("ours"), row.get("odoo")
        numbers = isinstance(ours, int | float) and isinstance(odoo_value, int | float) and ours
        ratio = f"{odoo_value / ours:.1f}x" if numbers else ""
        unit = row.get("unit", "")
        table.append(
            (
                row.get("figure", ""),
                f"{ours} {unit}".strip() if ours is not None else "",
                f"{odoo_value} {unit}".strip() if odoo_value is not None else "",
                ratio,
                row.get("target") or "",
                {True: "yes", False: "NO", None: ""}[row.get("met")],
            )
        )
    widths = [max(len(str(r[i])) for r in [header, *table]) for i in range(len(header))]
    print()
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("-|-".join("-" * w for w in widths))
    for r in table:
        print(" | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
    return 0 if all(row.get("met") is not False for row in rows) else 1


def cmd_pot(options):
    """Export each add-on's translation template to ``addons/<addon>/i18n/<addon>.pot``."""
    check_odoo()
    work = tempfile.mkdtemp(prefix="psa-pot-")
    register_cleanup(lambda: shutil.rmtree(work, ignore_errors=True))
    cluster = throwaway_cluster()
    config = write_odoo_config(os.path.join(work, "odoo.conf"), cluster, os.path.join(work, "data"))
    modules = options.modules or PSA_MODULES
    rc, _lines = run_odoo(config, ["-d", "psa_pot", "-i", ",".join(modules), "--stop-after-init", "--no-http"])
    if rc:
        return rc
    for module in modules:
        target = os.path.join(ADDONS_DIR, module, "i18n", f"{module}.pot")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        rc, _lines = run_odoo(
            config, ["-d", "psa_pot", f"--i18n-export={target}", f"--modules={module}", "--stop-after-init"]
        )
        say(f"{target}: {'written' if rc == 0 else 'FAILED'}")
        if rc:
            return rc
    return 0


def external_dependencies(modules):
    """Every module our add-ons depend on, directly or not, that is not one of ours."""
    import ast

    result = set()
    for module in modules:
        with open(os.path.join(ADDONS_DIR, module, "__manifest__.py"), encoding="utf-8") as handle:
            manifest = ast.literal_eval(handle.read())
        for dep in manifest.get("depends", []):
            if dep in PSA_MODULES:
                continue
            result.add(dep)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    test = sub.add_parser("test", help="the whole suite: Odoo tests, end-to-end tests, linters")
    test.add_argument("modules", nargs="*", help="limit to these add-ons (default: all four)")
    test.add_argument("--no-install", action="store_true", help="do not pip install the requirements")
    test.add_argument("--skip-lint", action="store_true")
    test.add_argument("--skip-pytest-odoo", action="store_true")
    test.add_argument(
        "--only-e2e",
        action="store_true",
        help="install with demo data (no Odoo tests, no pytest-odoo, no lint), then run tests/ only; "
        "with PSA_DEV_PG set, the fresh database is copied from the cached dependency template",
    )
    test.add_argument("-k", help="pytest -k expression for tests/")
    run = sub.add_parser("run", help="serve the suite with demo data on http://localhost:8069")
    run.add_argument("--db", default="psa")
    run.add_argument("--http-port", type=int, default=int(os.environ.get("PSA_HTTP_PORT", "8069")))
    run.add_argument("--http-interface", default=os.environ.get("PSA_HTTP_INTERFACE", "127.0.0.1"))
    run.add_argument("--pg-port", type=int, default=int(os.environ.get("PSA_PG_PORT", "54329")))
    run.add_argument("--no-install", action="store_true")
    sub.add_parser("lint", help="ruff (lint + format check) and pylint-odoo")
    pot = sub.add_parser("pot", help="export the add-ons' translation templates (i18n/<addon>.pot)")
    pot.add_argument("modules", nargs="*")
    bench = sub.add_parser("bench", help="every bench/bench_*.py on a fresh database, one table")
    bench.add_argument("only", nargs="*", help="only scripts whose name contains one of these")
    module = sub.add_parser("module", help="fast loop: install + test add-ons on a cached dependency template")
    module.add_argument("modules", nargs="*")
    module.add_argument("--tags", help="Odoo --test-tags (default: the named add-ons)")
    options = parser.parse_args()
    handlers = {
        "test": cmd_test,
        "run": cmd_run,
        "lint": cmd_lint,
        "module": cmd_template,
        "bench": cmd_bench,
        "pot": cmd_pot,
    }
    sys.exit(handlers[options.command](options))


if __name__ == "__main__":
    main()
