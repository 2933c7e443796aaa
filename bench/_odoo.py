"""Shared helper of the bench scripts: an Odoo environment on the database `make bench` prepared."""

import contextlib
import json
import os
import time


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


def report(figure, ours, odoo=None, unit="s", target="", met=None):
    """One row of the `make bench` table."""
    row = {"figure": figure, "ours": ours, "odoo": odoo, "unit": unit, "target": target, "met": met}
    print("BENCH " + json.dumps(row), flush=True)
