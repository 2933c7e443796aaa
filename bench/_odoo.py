"""Shared helpers of the bench scripts: an Odoo environment on the database `make bench` prepared, or a
stand-alone database made from a developer cluster's dependency template (``--dev-pg``)."""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ODOO_MAIN = "import odoo.cli, sys; sys.exit(odoo.cli.main())"


def odoo_env_args():
    """Odoo command-line style arguments from the PSA_* variables set by ``make bench``."""
    args = ["-c", os.environ["PSA_ODOO_CONFIG"]] if os.environ.get("PSA_ODOO_CONFIG") else []
    if os.environ.get("PSA_DB_HOST"):
        args += ["--db_host", os.environ["PSA_DB_HOST"], "--db_port", os.environ.get("PSA_DB_PORT", "5432")]
        args += ["--db_user", os.environ.get("PSA_DB_USER", "odoo")]
    return args


@contextlib.contextmanager
def odoo_env(dbname=None):
    """Yield a superuser environment; the caller commits what it wants kept."""
    import odoo
    from odoo.modules.registry import Registry

    odoo.tools.config.parse_config(odoo_env_args())
    registry = Registry(dbname or os.environ["PSA_DB_NAME"])
    with registry.cursor() as cr:
        yield odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})


class Timer:
    def __enter__(self):
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.started


def settle(dbname, timeout=60):
    """Let PostgreSQL settle before a timed section: ``VACUUM (ANALYZE)`` the database, then wait until no
    autovacuum worker runs on it (at most ``timeout`` seconds).

    Every timed section writes thousands of rows, and PostgreSQL's autovacuum then vacuums and analyses those
    tables in the background: on a 2-core machine the section that follows would share a core with it, and
    with fresh planner statistics neither side of a comparison plans on stale ones. This does not remove the
    machine's own noise: 8 identical ORM floors of 50 invoices in one process on an idle machine took 1.28 s
    to 2.20 s (2026-12-03); the benches compare the best of several rounds for that.
    """
    import psycopg2

    from odoo.sql_db import connection_info_for

    _name, info = connection_info_for(dbname)
    connection = psycopg2.connect(**info)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
                    " AND datname = current_database()"
                )
                if not cursor.fetchone()[0]:
                    break
                time.sleep(0.1)
    finally:
        connection.close()


def report(figure, ours, odoo=None, unit="s", target="", met=None):
    """One row of the `make bench` table."""
    row = {"figure": figure, "ours": ours, "odoo": odoo, "unit": unit, "target": target, "met": met}
    print("BENCH " + json.dumps(row), flush=True)


# ------------------------------------------------------------------------------------------------
# Stand-alone database on a developer cluster (``--dev-pg``)
# ------------------------------------------------------------------------------------------------
def addons_path():
    """Our add-ons, then every folder of ``odoo.addons`` (OCA wheels), then Odoo's own ``addons``."""
    import odoo.addons

    paths = [os.path.join(REPO, "addons")]
    for path in odoo.addons.__path__:
        if os.path.isdir(path) and path not in paths:
            paths.append(path)
    odoo_root = os.path.dirname(os.path.dirname(os.path.abspath(odoo.addons.__file__)))
    core_addons = os.path.join(os.path.dirname(odoo_root), "addons")
    if os.path.isdir(core_addons) and core_addons not in paths:
        paths.append(core_addons)
    return paths


def psql(dev_pg, port, sql, dbname="postgres"):
    """Run one SQL statement on the dev cluster (its socket directory); return the output, trimmed."""
    cmd = ["psql", "-h", os.path.join(dev_pg, "socket"), "-p", str(port), "-U", "odoo", "-d", dbname]
    return subprocess.run([*cmd, "-tAc", sql], check=True, capture_output=True, text=True).stdout.strip()


def prepare_dev_database(dev_pg, work, module, db_prefix, demo=True, log_level="warn"):
    """Create ``<db_prefix>_<pid>`` from the dev cluster's newest dependency template (``tpl_*``) and install
    ``module`` in it (with demo data unless ``demo`` is false).

    Writes ``<work>/odoo.conf`` (loopback only, no cron thread, ``log_level`` for the servers started on it)
    and returns ``(config path, database name, drop)``; ``drop()`` removes the database again.
    """
    port = int(open(os.path.join(dev_pg, "port")).read().strip())  # noqa: SIM115
    templates = psql(dev_pg, port, "SELECT datname FROM pg_database WHERE datname LIKE 'tpl_%' ORDER BY oid DESC")
    if not templates:
        sys.exit("no tpl_* database in the dev cluster: run scripts/psa_dev.py module once first")
    template = templates.splitlines()[0]
    dbname = f"{db_prefix}_{os.getpid()}"
    psql(dev_pg, port, f'CREATE DATABASE "{dbname}" TEMPLATE "{template}"')
    data_dir = os.path.join(work, "data")
    source_store = os.path.join(dev_pg, "data", "filestore", template)
    if os.path.isdir(source_store):
        shutil.copytree(source_store, os.path.join(data_dir, "filestore", dbname))
    config = os.path.join(work, "odoo.conf")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write(
            "[options]\n"
            f"addons_path = {','.join(addons_path())}\n"
            f"data_dir = {data_dir}\n"
            f"db_host = {os.path.join(dev_pg, 'socket')}\n"
            f"db_port = {port}\n"
            "db_user = odoo\n"
            "db_password = False\n"
            "http_interface = 127.0.0.1\n"
            "max_cron_threads = 0\n"
            f"log_level = {log_level}\n"
        )
    print(f"installing {module} in {dbname} (from {template}{'' if demo else ', no demo data'})", flush=True)
    install = ["-c", config, "-d", dbname, "-i", module, "--stop-after-init", "--no-http", "--log-level", "warn"]
    if not demo:
        install += ["--without-demo", "all"]
    subprocess.run([sys.executable, "-c", ODOO_MAIN, *install], check=True)

    def drop():
        import odoo.sql_db

        odoo.sql_db.close_db(dbname)
        psql(dev_pg, port, f'DROP DATABASE IF EXISTS "{dbname}"')
        print(f"dropped {dbname}", flush=True)

    return config, dbname, drop
