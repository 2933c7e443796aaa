#!/usr/bin/env python3
"""Profile the billing run against the ORM floor on the same data: queries and Python time per invoice.

Wall-clock seconds mean little on a shared machine; this script counts what does not depend on the
load: the SQL queries of each side and the CPU time of this process (``time.process_time``), and with
``--profile`` prints the functions where the run spends its own time (cProfile, top ``--top`` by
internal time). Data: ``bench_billing_run.make_orders`` (N orders x 20 approved time entries), one
invoice per order; the floor is ``bench_billing_run.measure_orm_floor`` on the run's own invoices.

    python3 bench/profile_billing_run.py --dev-pg /work/devpg --orders 30 [--profile] [--keep]
    python3 bench/profile_billing_run.py --dev-pg /work/devpg --db bench_profile_123 --orders 30

``--keep`` leaves the database for the next call (``--db``): the add-ons' Python code is read again on
each call, so only a change of fields needs a new database.
"""

import argparse
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta

from _odoo import addons_path, prepare_dev_database
from bench_billing_run import LINES_PER_ORDER, make_orders, measure_orm_floor, new_run


def say(message):
    print(message, flush=True)


def counted(env, func, profile=None):
    """``func()``'s result, queries, CPU seconds and wall seconds (profiled into ``profile`` when given)."""
    queries, cpu, wall = env.cr.sql_log_count, time.process_time(), time.perf_counter()
    if profile:
        profile.enable()
    try:
        result = func()
        env.flush_all()
    finally:
        if profile:
            profile.disable()
    return result, env.cr.sql_log_count - queries, time.process_time() - cpu, time.perf_counter() - wall


def floor_counted(env, moves, profile=None):
    """Queries, CPU seconds and wall seconds of the ORM floor's create and post of ``moves`` (profiled
    into ``profile`` when given)."""
    stats = {"profile": profile}
    wall = measure_orm_floor(env, moves, stats)
    return stats["queries"], stats["cpu"], wall


def calls(profile):
    """The function calls a profile counted: the Python work done, whatever the machine's load."""
    return pstats.Stats(profile).total_calls if profile else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev-pg", required=True, help="dev cluster directory (socket/, port)")
    parser.add_argument("--db", help="reuse this database (made by an earlier --keep)")
    parser.add_argument("--orders", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=50, help="the run's batch size (invoices per batch)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=1, help="measure this many times (new data each time)")
    parser.add_argument("--dump", help="also write the run's profile to this file (pstats)")
    parser.add_argument("--keep", action="store_true", help="keep the database for the next call")
    options = parser.parse_args()

    work = tempfile.mkdtemp(prefix="psa-profile-billing-")
    drop = None
    try:
        if options.db:
            port = int(open(os.path.join(options.dev_pg, "port")).read().strip())  # noqa: SIM115
            config, dbname = os.path.join(work, "odoo.conf"), options.db
            with open(config, "w", encoding="utf-8") as handle:
                handle.write(
                    f"[options]\naddons_path = {','.join(addons_path())}\n"
                    f"data_dir = {os.path.join(options.dev_pg, 'data')}\n"
                    f"db_host = {os.path.join(options.dev_pg, 'socket')}\ndb_port = {port}\ndb_user = odoo\n"
                    "max_cron_threads = 0\nlog_level = warn\n"
                )
        else:
            config, dbname, drop = prepare_dev_database(
                options.dev_pg, work, "psa_timesheet_billing", "bench_profile", demo=False
            )
            if options.keep:
                say(f"keeping database {dbname} (--db {dbname} next time)")
                drop = None

        import odoo
        from odoo.modules.registry import Registry
        from odoo.tools import config as odoo_config

        odoo_config.parse_config(["-c", config, "--log-level=warn"])
        registry = Registry(dbname)
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            env["ir.config_parameter"].set_param("psa_timesheet_billing.run_batch_size", options.batch_size)
            uom_hour = env.ref("uom.product_uom_hour")
            product = env["product.product"].create(
                {
                    "name": "Profile consulting (hourly)",
                    "type": "service",
                    "invoice_policy": "delivery",
                    "service_type": "timesheet",
                    "list_price": 110.0,
                    "uom_id": uom_hour.id,
                    "uom_po_id": uom_hour.id,
                }
            )
            employee = env["hr.employee"].create({"name": "Profile consultant"})
            period_end = date.today().replace(day=1) - timedelta(days=1)
            label = f"prof{os.getpid()}"

            def run_for(orders):
                return new_run(env, orders.partner_id.ids, period_end)

            # a first small run and floor fill the process's caches (field triggers, views, ormcache):
            # the measured ones then compare what each costs per invoice, not who came first
            warm = run_for(make_orders(env, 3, f"{label}w", product, employee, period_end))
            warm.with_context(queue_job__no_delay=True).action_confirm()
            measure_orm_floor(env, warm.invoice_ids)
            count, best = options.orders, None
            for attempt in range(options.repeat):
                say(f"building {count} orders x {LINES_PER_ORDER} approved timesheet lines ...")
                run = run_for(make_orders(env, count, f"{label}r{attempt}", product, employee, period_end))
                cr.commit()
                cr.execute("ANALYZE")
                env.invalidate_all()
                profile = cProfile.Profile() if options.profile else None
                _result, run_queries, run_cpu, run_wall = counted(
                    env, run.with_context(queue_job__no_delay=True).action_confirm, profile
                )
                cr.commit()
                invoices = run.invoice_ids
                if len(invoices) != count or set(invoices.mapped("state")) != {"posted"}:
                    sys.exit(f"the run made {len(invoices)} invoices ({run.state}), expected {count} posted")
                floor_profile = cProfile.Profile() if options.profile else None
                floor_queries, floor_cpu, floor_wall = floor_counted(env, invoices, floor_profile)
                if floor_profile and options.dump:
                    floor_profile.dump_stats(f"{options.dump}.floor")
                say(
                    f"{count} orders, batch {options.batch_size}: run {run_queries / count:.1f} queries/invoice, "
                    f"{1000 * run_cpu / count:.1f} ms CPU/invoice | ORM floor {floor_queries / count:.1f} "
                    f"queries/invoice, {1000 * floor_cpu / count:.1f} ms CPU/invoice | "
                    f"run/floor: queries {run_queries / floor_queries:.2f}x, CPU {run_cpu / floor_cpu:.2f}x | "
                    f"wall: run {1000 * run_wall / count:.1f} ms/invoice, floor "
                    f"{1000 * floor_wall / count:.1f} ms/invoice, {run_wall / floor_wall:.2f}x"
                )
                if profile:
                    run_calls, floor_calls = calls(profile), calls(floor_profile)
                    say(
                        f"Python function calls per invoice: run {run_calls / count:.0f}, ORM floor "
                        f"{floor_calls / count:.0f}, run/floor {run_calls / floor_calls:.2f}x"
                    )
                attempt_best = (run_cpu, floor_cpu)
                best = attempt_best if best is None else (min(best[0], run_cpu), min(best[1], floor_cpu))
            if options.repeat > 1:
                say(
                    f"best of {options.repeat}: run {1000 * best[0] / count:.1f} ms CPU/invoice, ORM floor "
                    f"{1000 * best[1] / count:.1f} ms CPU/invoice, run/floor CPU {best[0] / best[1]:.2f}x"
                )
            if profile and options.dump:
                profile.dump_stats(options.dump)
            if profile:
                out = io.StringIO()
                stats = pstats.Stats(profile, stream=out)
                stats.sort_stats("tottime").print_stats(options.top)
                stats.sort_stats("cumulative").print_stats(options.top)
                say(out.getvalue())
    finally:
        if drop:
            drop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
