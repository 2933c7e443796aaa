#!/usr/bin/env python3
"""Bench: 1,000 due invoices charged as queue jobs (one per charge, channel ``root.psa.payments``) against
localstripe, on 1 job worker, then 1,000 more on 2.

The cron opens the attempts and enqueues their jobs; a prefork Odoo server runs them on 1 worker process,
then (on a second set of customers and invoices, the same shape) on 2. Target (issue 17): 2 workers at least
1.5x faster than 1 on this 2-core machine; 0 duplicate charges, 0 invoices left unpaid.

Runs from ``make bench`` (PSA_ODOO_CONFIG, PSA_DB_NAME); ``PSA_BENCH_INVOICES`` changes the size. It commits:
use a throwaway database.
"""

import os
import sys
import time

import requests
from _job_workers import clear_jobs, describe, job_server, timeline, wait_for_jobs
from _odoo import report
from bench_autopay import INVOICES, prepare, start_localstripe

import odoo
from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry

CHANNEL = "root.psa.payments"
TARGET = 1.5


def main():
    dbname = os.environ["PSA_DB_NAME"]
    odoo.tools.config.parse_config(["-c", os.environ["PSA_ODOO_CONFIG"], "-d", dbname, "--log-level", "warn"])
    registry = Registry(dbname)
    proc, url = start_localstripe()
    seconds, failures = {}, []
    try:
        for workers in (1, 2):
            clear_jobs(registry, CHANNEL)
            with registry.cursor() as cr:
                invoice_ids = prepare(api.Environment(cr, SUPERUSER_ID, {}), url)
                cr.commit()
            created_before = requests.get(f"{url}/_config/psa/stats", timeout=10).json()["created"]
            with job_server(dbname, workers, CHANNEL, registry=registry):
                started = time.perf_counter()
                with registry.cursor() as cr:
                    opened = api.Environment(cr, SUPERUSER_ID, {})["account.move"]._cron_charge_due_invoices(
                        batch_size=50
                    )
                    cr.commit()
                    cron_seconds = time.perf_counter() - started
                _waited, states = wait_for_jobs(registry, CHANNEL)
                seconds[workers] = time.perf_counter() - started
            created = requests.get(f"{url}/_config/psa/stats", timeout=10).json()["created"] - created_before
            with registry.cursor() as cr:
                invoices = api.Environment(cr, SUPERUSER_ID, {})["account.move"].browse(invoice_ids)
                unpaid = len(invoices.filtered(lambda m: m.payment_state not in ("paid", "in_payment")))
            print(
                f"{workers} worker(s): {opened} attempts, {seconds[workers]:.1f} s, jobs {states}, "
                f"{created} payment intents, {unpaid} unpaid",
                flush=True,
            )
            print(
                f"    the cron (in this process): {cron_seconds:.1f} s; {describe(timeline(registry, CHANNEL))}",
                flush=True,
            )
            failures.append((workers, created - (len(invoice_ids) - unpaid), unpaid))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    speedup = seconds[1] / seconds[2]
    label = f"{INVOICES:,} charges"
    report(f"{label}: 1 job worker (cron + jobs)", round(seconds[1], 1))
    report(f"{label}: 2 job workers (cron + jobs)", round(seconds[2], 1))
    report(
        f"{label}: 2 job workers vs 1 (speed-up)",
        round(speedup, 2),
        unit="x",
        target=f">= {TARGET}x",
        met=speedup >= TARGET,
    )
    duplicates = sum(d for _w, d, _u in failures)
    unpaid = sum(u for _w, _d, u in failures)
    report(f"{label} on 1 and 2 job workers: duplicate charges", duplicates, unit="", target=0, met=duplicates == 0)
    report(f"{label} on 1 and 2 job workers: invoices left unpaid", unpaid, unit="", target=0, met=unpaid == 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
