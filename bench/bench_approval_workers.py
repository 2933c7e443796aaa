#!/usr/bin/env python3
"""Bench: the automatic approval of 100,000 timesheet lines as queue jobs, on 1 job worker, then on 2.

The cron cuts the lines into chunks (one job each, channel ``root.psa.approval``); a prefork Odoo server runs
them on 1 worker process, then the same lines (put back to "to approve") on 2. Target (issue 17): 2 workers
at least 1.5x faster than 1 on this 2-core machine, with the same decisions.

Runs from ``make bench`` (PSA_ODOO_CONFIG, PSA_DB_NAME) on the data of ``bench_auto_approval.py`` (created if
missing)::

    python3 bench/bench_approval_workers.py [--lines 100000] [--batch-size 2000]

It commits: use a throwaway database.
"""

import argparse
import os
import sys
import time

from _job_workers import clear_jobs, describe, job_server, timeline, wait_for_jobs
from _odoo import report
from bench_auto_approval import setup_data, setup_rules

CHANNEL = "root.psa.approval"
TARGET = 1.5


def reset(cr, project_id):
    cr.execute(
        "UPDATE account_analytic_line SET psa_approval_state = 'to_approve', psa_approval_reason = NULL,"
        " psa_approved_by_id = NULL, psa_approval_date = NULL WHERE project_id = %s",
        (project_id,),
    )
    cr.commit()


def decisions(cr, project_id):
    cr.execute(
        "SELECT psa_approval_state, count(*) FROM account_analytic_line WHERE project_id = %s GROUP BY 1 ORDER BY 1",
        (project_id,),
    )
    return dict(cr.fetchall())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=int(os.environ.get("PSA_BENCH_APPROVALS", "100000")))
    parser.add_argument("--batch-size", type=int, default=2000)
    options = parser.parse_args()

    import odoo
    from odoo.modules.registry import Registry

    dbname = os.environ["PSA_DB_NAME"]
    odoo.tools.config.parse_config(["-c", os.environ["PSA_ODOO_CONFIG"], "-d", dbname, "--log-level", "warn"])
    registry = Registry(dbname)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        project = setup_data(env, options.lines)
        setup_rules(env, project)
        cr.execute("SELECT count(*) FROM account_analytic_line WHERE project_id = %s", (project.id,))
        count = cr.fetchone()[0]
        project_id = project.id
    label = f"{count:,} approvals"
    seconds, outcome = {}, {}
    for workers in (1, 2):
        clear_jobs(registry, CHANNEL)
        with registry.cursor() as cr:
            reset(cr, project_id)
        with job_server(dbname, workers, CHANNEL, registry=registry):
            started = time.perf_counter()
            with registry.cursor() as cr:
                env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
                enqueued = env["psa.approval.rule"]._cron_auto_approve(batch_size=options.batch_size)
                cr.commit()
                cron_seconds = time.perf_counter() - started
                cr.execute("SELECT count(*) FROM queue_job WHERE channel = %s", (CHANNEL,))
                jobs = cr.fetchone()[0]
            _waited, states = wait_for_jobs(registry, CHANNEL)
            seconds[workers] = time.perf_counter() - started
        with registry.cursor() as cr:
            outcome[workers] = decisions(cr, project_id)
        print(
            f"{workers} worker(s): {enqueued} lines in {jobs} jobs, {seconds[workers]:.1f} s, jobs {states}, "
            f"lines {outcome[workers]}",
            flush=True,
        )
        print(
            f"    the cron (in this process): {cron_seconds:.1f} s; {describe(timeline(registry, CHANNEL))}", flush=True
        )
        if states.get("failed"):
            print(f"{states['failed']} approval jobs failed", flush=True)
            return 1
    speedup = seconds[1] / seconds[2]
    report(f"{label}: 1 job worker (cron + jobs)", round(seconds[1], 1))
    report(f"{label}: 2 job workers (cron + jobs)", round(seconds[2], 1))
    report(
        f"{label}: 2 job workers vs 1 (speed-up)",
        round(speedup, 2),
        unit="x",
        target=f">= {TARGET}x",
        met=speedup >= TARGET,
    )
    report(
        f"{label}: same decisions on 1 and 2 workers",
        outcome[1] == outcome[2],
        unit="",
        target=True,
        met=outcome[1] == outcome[2],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
