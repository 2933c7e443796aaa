#!/usr/bin/env python3
"""``make peers``: the test suites of the modules we build on, run with our add-ons installed and without.

Odoo core's and OCA's own tests (``SUITES``) run on two databases of one private PostgreSQL cluster:

* ``peers_base``: every module our add-ons depend on (and the suites' modules), with demo data;
* ``peers_ours``: a copy of ``peers_base`` (``CREATE DATABASE ... TEMPLATE``, filestore copied) on which our
  four add-ons are installed, without their own demo data. Same dependencies, same data: the only difference
  is our code and the records it installs (the script checks that both hold the same other modules).

Each test's result is read from Odoo's log ("Starting <Class>.<method> ...", "FAIL: ..." / "ERROR: ..."
lines, whose logger names the module) and the two runs are compared test by test. A test that fails only with
our add-ons must be listed in ``peers/expected_differences.txt`` with the rule of ours that explains it and
the add-on that owns the rule, or ``make peers`` fails. A listed difference that no longer occurs fails too
(the list stays true), unless the entry says ``transient: yes`` (then it is printed as stale). Tests that
fail in both databases are Odoo's or OCA's own state on this machine: printed, never ours to explain.

How the tests run after the whole registry is loaded
----------------------------------------------------
Odoo's stock runner runs a module's ``at_install`` tests right after that module is loaded (by ``-i``, and
also when an installed database is loaded without ``-i``/``-u``: ``odoo/modules/loading.py`` runs them when
``test_enable`` is set and nothing is being updated). At that moment the registry only knows the modules
loaded so far, while the database already holds the columns of modules loaded later: a NOT NULL column of
ours, unknown to the ORM, makes the test's INSERT fail. ``post_install`` tests run once the registry is
complete (``odoo/service/server.py``, ``preload_registries``), on every loaded module when nothing is updated.

So: 1. install everything with ``--stop-after-init`` and no tests; 2. start Odoo on the installed database with
``--test-enable --test-tags /<suite>,...`` and no ``-i``/``-u``, through a small wrapper around
``odoo.cli.main()`` that replaces ``odoo.tests.loader.make_suite``: the ``at_install`` suite built while
modules load is empty (deferred), and the ``post_install`` suite built after the registry is loaded holds
both the ``at_install`` and the ``post_install`` tests of the selected modules (``at_install`` first, each
group in Odoo's own order). Test tags cannot do this alone: the position filter of ``make_suite`` requires
the position tag, and ``at_install`` tests never carry ``post_install``. Everything else is Odoo's runner:
its HTTP server for ``HttpCase``, its per-test transactions and its result line.

Measured (1 December 2026, the 2-core development machine): with the machine otherwise idle, the full list
takes 574 s (both databases 117 s, then 620 to 631 tests per database) and ``--quick`` 234 s. Under a load
average of 6 to 7, the full list took about 48 minutes and ``--quick`` 16. ``.ci/run`` runs ``--quick``: the
full list also runs browser tours of Odoo's own, one of which failed once in the database without our add-ons,
and a flaky test in the other database would turn CI red for nothing of ours.

Usage: ``python3 scripts/psa_peers.py`` (all suites), ``--quick`` (the suites ``.ci/run`` runs),
``--suites contract,product_contract``, ``--keep DIR`` (a persistent cluster in DIR: databases reused
between runs, our add-ons updated with ``-u``; for development loops).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import psa_dev
from psa_dev import PSA_MODULES, REPO, say

SUITES = [
    "sale_timesheet",
    "sale_project",
    "hr_timesheet",
    "project",
    "sale_expense",
    "payment_stripe",
    "account_payment",
    "contract",
    "product_contract",
    "helpdesk_mgmt",
    "account_invoice_inter_company",
    "helpdesk_ticket_close_inactive",
    "contract_variable_quantity",
    "helpdesk_mgmt_timesheet",
]
QUICK_SUITES = ["product_contract", "contract", "payment_stripe", "helpdesk_mgmt"]
EXPECTED_FILE = os.path.join(REPO, "peers", "expected_differences.txt")
BASE_DB, OURS_DB = "peers_base", "peers_ours"
ENTRY_KEYS = ("addon", "rule", "note", "transient")

# Odoo's log record: "<date> <time> <pid> <LEVEL> <db> <logger>: <message>"
RECORD_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (\w+) (\S+) (\S+): (.*)$")
TEST_LOGGER_RE = re.compile(r"^odoo\.addons\.(\w+)\.tests\.")
# "setUpClass (odoo.addons.contract.tests.test_contract.TestContract)", logged by unittest.suite
CLASS_FIXTURE_RE = re.compile(r"^(\w+) \(odoo\.addons\.(\w+)\.[\w.]*\.(\w+)\)$")
SUBTEST_RE = re.compile(r"^Subtest (\w+\.\w+)")
RESULT_RE = psa_dev.ODOO_RESULT_RE

# The wrapper around odoo.cli.main() that runs at_install tests after the whole registry is loaded (see above).
DEFERRED_MAIN = """
import sys
import odoo.cli
from odoo.tools import config

config["test_enable"] = True  # as --test-enable will: Odoo's test framework refuses to be imported otherwise
from odoo.tests import loader
from odoo.tests.suite import OdooSuite

stock_make_suite = loader.make_suite


def make_suite(module_names, position="at_install"):
    if position == "at_install":
        return OdooSuite([])
    return OdooSuite([*stock_make_suite(module_names, "at_install"), *stock_make_suite(module_names, "post_install")])


loader.make_suite = make_suite
sys.exit(odoo.cli.main())
"""


class RunResult:
    """The tests one Odoo run started and the ones that failed, by id ``module:Class.method``."""

    def __init__(self):
        self.started = set()
        self.failed = {}  # id -> first line of the failure
        self.summary = None
        self.returncode = None
        self.log_path = None
        self.seconds = 0.0

    def read_line(self, line, pending):
        match = RECORD_RE.match(line)
        if not match:
            if pending.get("id") and line.strip():
                pending["lines"].append(line.strip())
            return
        level, _db, logger, message = match.groups()
        message = message.strip()
        pending.clear()
        summary = RESULT_RE.search(line)
        if summary:
            self.summary = summary.group(0)
        test_id = None
        module = TEST_LOGGER_RE.match(logger)
        if message.startswith("Starting ") and message.endswith(" ..."):
            if module:
                self.started.add(f"{module.group(1)}:{message[9:-4]}")
            return
        if level not in ("ERROR", "CRITICAL") or not message.startswith(("FAIL: ", "ERROR: ")):
            return
        description = message.split(": ", 1)[1]
        fixture = CLASS_FIXTURE_RE.match(description)
        subtest = SUBTEST_RE.match(description)
        if fixture:
            test_id = f"{fixture.group(2)}:{fixture.group(3)}.{fixture.group(1)}"
        elif module:
            test_id = f"{module.group(1)}:{subtest.group(1) if subtest else description.split(' ')[0]}"
        if test_id:
            self.failed.setdefault(test_id, [])
            pending.update(id=test_id, lines=self.failed[test_id])


def read_log(log_path):
    result = RunResult()
    result.log_path = log_path
    pending = {}
    with open(log_path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            result.read_line(line.rstrip("\n"), pending)
    return result


def run_tests(config, dbname, suites, log_path):
    """One Odoo run of ``suites``' tests on the installed database ``dbname`` (see the module docstring)."""
    result = RunResult()
    result.log_path = log_path
    started = time.time()
    cmd = [
        sys.executable,
        "-c",
        DEFERRED_MAIN,
        "-c",
        config,
        "-d",
        dbname,
        "--test-enable",
        "--test-tags",
        ",".join(f"/{suite}" for suite in suites),
        "--stop-after-init",
    ]
    pending = {}
    with (
        open(log_path, "w", encoding="utf-8") as out,
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace") as proc,
    ):
        for line in proc.stdout:
            out.write(line)
            result.read_line(line.rstrip("\n"), pending)
        result.returncode = proc.wait()
    result.seconds = time.time() - started
    return result


def install(config, dbname, modules, log_path, extra=()):
    started = time.time()
    rc, lines = psa_dev.run_odoo(
        config, ["-d", dbname, "-i", ",".join(modules), "--stop-after-init", "--no-http", *extra], log_path=log_path
    )
    errors = psa_dev.error_lines(lines)
    say(f"{dbname}: installed {len(modules)} module(s) in {time.time() - started:.0f}s (exit {rc}, log: {log_path})")
    if rc:
        for line in errors[:20]:
            print("  ", line)
    return rc


def installed_modules(cluster, dbname):
    rows = cluster.psql("SELECT name FROM ir_module_module WHERE state = 'installed' ORDER BY name", dbname=dbname)
    return set(rows.split())


def database_exists(cluster, dbname):
    return cluster.psql(f"SELECT 1 FROM pg_database WHERE datname = '{dbname}'") == "1"


def prepare_databases(cluster, work, data_dir, suites, keep, logs):
    """Build ``peers_base`` then ``peers_ours``; reused as they are with ``--keep`` (ours updated)."""
    config = psa_dev.write_odoo_config(os.path.join(work, "odoo-install.conf"), cluster, data_dir)
    base_modules = sorted(psa_dev.external_dependencies(PSA_MODULES) | set(SUITES) | set(suites))
    if not (keep and database_exists(cluster, BASE_DB)):
        if database_exists(cluster, BASE_DB):
            cluster.psql(f'DROP DATABASE "{BASE_DB}"')
        if install(config, BASE_DB, base_modules, os.path.join(logs, "peers-install-base.log")):
            return False
    if keep and database_exists(cluster, OURS_DB):
        rc, _lines = psa_dev.run_odoo(
            config,
            ["-d", OURS_DB, "-u", ",".join(PSA_MODULES), "--stop-after-init", "--no-http"],
            log_path=os.path.join(logs, "peers-update-ours.log"),
        )
        if rc:
            say(f"updating our add-ons in {OURS_DB} failed (log: {os.path.join(logs, 'peers-update-ours.log')})")
            return False
    else:
        if database_exists(cluster, OURS_DB):
            cluster.psql(f'DROP DATABASE "{OURS_DB}"')
        cluster.psql(f'CREATE DATABASE "{OURS_DB}" TEMPLATE "{BASE_DB}"')
        filestore = os.path.join(data_dir, "filestore")
        if os.path.isdir(os.path.join(filestore, BASE_DB)):
            shutil.rmtree(os.path.join(filestore, OURS_DB), ignore_errors=True)
            shutil.copytree(os.path.join(filestore, BASE_DB), os.path.join(filestore, OURS_DB))
        # Without our demo data: the same data in both databases, our code and its records aside.
        if install(
            config, OURS_DB, PSA_MODULES, os.path.join(logs, "peers-install-ours.log"), ("--without-demo", "all")
        ):
            return False
    others = installed_modules(cluster, OURS_DB) - set(PSA_MODULES)
    base = installed_modules(cluster, BASE_DB)
    if others != base:
        say(f"the databases differ by more than our add-ons: {sorted(others ^ base)}")
        return False
    say(f"{BASE_DB} and {OURS_DB}: the same {len(base)} modules, ours installed in {OURS_DB} only")
    return True


def load_expected(path):
    """``{test id: entry}`` from the checked-in list; each entry names the rule and the add-on owning it.

    The file: ``#`` comments; a test id (``module:Class.method``) at the start of a line, then its indented
    ``key: value`` lines: ``addon`` (the add-on owning the rule), ``rule``, optional ``note`` and
    ``transient: yes`` (the difference may stop occurring: printed as stale instead of failing). A longer value
    goes on over more indented lines.
    """
    expected, problems, entry, last_key = {}, [], None, None
    with open(path, encoding="utf-8") as handle:
        for number, raw in enumerate(handle, 1):
            line = raw.rstrip()
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if not line[0].isspace():
                test_id = line.strip()
                if ":" not in test_id:
                    problems.append(f"line {number}: {test_id!r} is not module:Class.method")
                if test_id in expected:
                    problems.append(f"line {number}: {test_id} listed twice")
                entry = expected[test_id] = {"test": test_id}
                last_key = None
                continue
            key, sep, value = line.strip().partition(":")
            if entry is None:
                problems.append(f"line {number}: expected a test id first")
            elif sep and key.strip() in ENTRY_KEYS:
                entry[key.strip()] = value.strip()
                last_key = key.strip()
            elif last_key:  # a longer value goes on over more indented lines
                entry[last_key] += " " + line.strip()
            else:
                problems.append(f"line {number}: expected one of {', '.join(ENTRY_KEYS)}")
    for test_id, entry in expected.items():
        if not entry.get("rule") or entry.get("addon") not in PSA_MODULES:
            problems.append(f"{test_id}: needs a rule and the addon (one of {', '.join(PSA_MODULES)}) owning it")
        entry["transient"] = entry.get("transient", "").lower() in ("yes", "true")
    return expected, problems


def compare(base, ours, suites, expected):
    """Print the comparison; return the number of problems (0: ``make peers`` passes)."""
    in_scope = {test_id: entry for test_id, entry in expected.items() if test_id.split(":")[0] in suites}
    only_ours = sorted(set(ours.failed) - set(base.failed))
    only_base = sorted(set(base.failed) - set(ours.failed))
    both = sorted(set(ours.failed) & set(base.failed))
    not_run = sorted(test for test in base.started - ours.started if test not in ours.failed)
    problems = 0
    print("\n==== peers: Odoo core and OCA suites, with our add-ons vs without ====")
    for suite in suites:
        ran_base = sum(1 for test in base.started if test.startswith(suite + ":"))
        ran_ours = sum(1 for test in ours.started if test.startswith(suite + ":"))
        failed_base = sum(1 for test in base.failed if test.startswith(suite + ":"))
        failed_ours = sum(1 for test in ours.failed if test.startswith(suite + ":"))
        print(
            f"  {suite:<32} without: {ran_base:>4} ran {failed_base:>3} failed"
            f"   with ours: {ran_ours:>4} ran {failed_ours:>3} failed"
        )
    print(f"  without ours: {base.summary or 'no result line'} ({base.seconds:.0f}s, log {base.log_path})")
    print(f"  with ours:    {ours.summary or 'no result line'} ({ours.seconds:.0f}s, log {ours.log_path})")
    for label, result in (("without", base), ("with", ours)):
        if not result.summary or not result.started:
            print(
                f"PROBLEM: the run {label} our add-ons gave no result (exit {result.returncode}): see {result.log_path}"
            )
            problems += 1
    if both:
        print(f"\nFailing without our add-ons too ({len(both)}, not ours to explain):")
        for test in both:
            print(f"  {test}")
    if only_base:
        print(f"\nFailing only without our add-ons ({len(only_base)}):")
        for test in only_base:
            print(f"  {test}")
    print(f"\nFailing only with our add-ons ({len(only_ours)}):")
    for test in only_ours:
        entry = in_scope.get(test)
        if entry:
            print(f"  expected  {test}\n            rule of {entry['addon']}: {entry['rule']}")
        else:
            reason = (ours.failed[test] or [""])[-1]
            print(f"  PROBLEM   {test}: not in {os.path.relpath(EXPECTED_FILE, REPO)}\n            {reason}")
            problems += 1
    for test in not_run:
        if test in in_scope:
            continue
        print(f"  PROBLEM   {test}: ran without our add-ons, not with them")
        problems += 1
    for test, entry in sorted(in_scope.items()):
        if test in only_ours or test in not_run:
            continue
        state = "fails without our add-ons too" if test in base.failed else "passes with our add-ons"
        if entry.get("transient"):
            print(f"  stale     {test}: {state} now; remove it from the list ({entry.get('note', '')})")
        else:
            print(f"  PROBLEM   {test}: listed, but {state}: remove it from the list")
            problems += 1
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK_SUITES)}")
    parser.add_argument("--suites", help="comma-separated suites (default: all of SUITES)")
    parser.add_argument("--keep", help="persistent cluster folder: databases reused between runs")
    parser.add_argument("--serial", action="store_true", help="run the two databases one after the other")
    parser.add_argument("--expected", default=EXPECTED_FILE)
    parser.add_argument(
        "--from-logs", nargs=2, metavar=("BASE_LOG", "OURS_LOG"), help="compare the logs of earlier runs, run nothing"
    )
    options = parser.parse_args()
    started = time.time()
    suites = QUICK_SUITES if options.quick else SUITES
    if options.suites:
        suites = [suite.strip() for suite in options.suites.split(",") if suite.strip()]
    expected, problems = load_expected(options.expected)
    for problem in problems:
        say(f"{options.expected}: {problem}")
    if problems:
        return 2
    if options.from_logs:
        base, ours = (read_log(path) for path in options.from_logs)
        problems = compare(base, ours, suites, expected)
        print(f"\npeers: {problems} problem(s)")
        return 1 if problems else 0
    psa_dev.check_odoo()
    work = tempfile.mkdtemp(prefix="psa-peers-")
    psa_dev.register_cleanup(lambda: shutil.rmtree(work, ignore_errors=True))
    if options.keep:
        os.makedirs(options.keep, exist_ok=True)
        cluster = psa_dev.PgCluster(os.path.abspath(options.keep), persistent=True)
        psa_dev.register_cleanup(cluster.stop)
        cluster.start()
        data_dir = os.path.join(os.path.abspath(options.keep), "odoo-data")
    else:
        cluster = psa_dev.throwaway_cluster()
        data_dir = os.path.join(work, "data")
    logs = os.path.join(psa_dev.LOCAL_DIR, "logs")
    os.makedirs(logs, exist_ok=True)
    if not prepare_databases(cluster, work, data_dir, suites, bool(options.keep), logs):
        return 1
    say(f"databases ready in {time.time() - started:.0f}s; running {', '.join(suites)}")
    results = {}

    def run(dbname):
        config = psa_dev.write_odoo_config(os.path.join(work, f"odoo-{dbname}.conf"), cluster, data_dir)
        results[dbname] = run_tests(config, dbname, suites, os.path.join(logs, f"peers-{dbname}.log"))
        say(f"{dbname}: {results[dbname].summary} in {results[dbname].seconds:.0f}s")

    if options.serial:
        run(BASE_DB)
        run(OURS_DB)
    else:
        threads = [threading.Thread(target=run, args=(dbname,)) for dbname in (BASE_DB, OURS_DB)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    problems = compare(results[BASE_DB], results[OURS_DB], suites, expected)
    print(f"\npeers: {problems} problem(s) in {time.time() - started:.0f}s")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
