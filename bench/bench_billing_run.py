#!/usr/bin/env python3
"""Billing run (psa_timesheet_billing) against Odoo's own invoicing, on identical data (issue 5).

For N orders x 20 approved timesheet lines (N = 50 and 200 by default) it builds two identical data
sets (only the customer names differ), then times, each committed:

(a) our billing run: ``psa.billing.run`` in fully automatic mode, one invoice per order, posted;
(b) Odoo's own ``sale.order._create_invoices()`` followed by ``account.move.action_post()``.

It prints seconds, milliseconds and queries per invoice, and the ratio Odoo / ours, as human lines and
as ``BENCH {...}`` JSON lines (the format ``scripts/psa_dev.py bench`` collects).

Database:
* under ``scripts/psa_dev.py bench``: ``PSA_ODOO_CONFIG`` and ``PSA_DB_NAME`` name a database that
  already has the add-ons;
* stand-alone: ``python3 bench/bench_billing_run.py --dev-pg /work/main/.local/devpg`` creates a
  database from that dev cluster's dependency template (``tpl_*``), installs psa_timesheet_billing,
  measures, and drops the database again.

Sizes: ``--sizes 50,200`` or ``PSA_BENCH_SIZES``; Odoo's own invoicing is measured up to
``--odoo-up-to`` (200) orders, larger sizes time our run only (1,000 orders: target under 60 s).
At those sizes our run and the ORM floor are measured ``--repeats`` times (``PSA_BENCH_REPEATS``, default 3),
each round on its own identical data set, and each side is judged on its best round.
``--race N`` (default 10) then confirms two runs over the same N orders at the same moment, each in
its own transaction, and checks nothing is billed twice or left out.
"""

import argparse
import contextlib
import cProfile
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta

from _job_workers import perform_jobs_here
from _odoo import prepare_dev_database, settle

LINES_PER_ORDER = 20
TARGET_RATIO = 5.0
# issue 17: the run at most 1.3x the ORM floor; 10,000 orders cost per invoice and worker memory at most
# 1.2x those of 1,000
FLOOR_TARGET = 1.3
FLOOR_SIZE = 200  # the size the issue measured the floor at (200 orders x 20 lines, 2026-12-01)
SCALE_SIZES = (1000, 10000)
SCALE_TARGET = 1.2


def say(message):
    print(message, flush=True)


def bench_line(**values):
    print("BENCH " + json.dumps(values), flush=True)


# ------------------------------------------------------------------------------------------------
# Data and measures
# ------------------------------------------------------------------------------------------------
def make_orders(env, count, label, product, employee, period_end):
    """``count`` confirmed orders, each with 20 approved timesheet lines on its own project."""
    from odoo import Command

    partners = env["res.partner"].create(
        [{"name": f"Bench {label} customer {index:04d}", "is_company": True} for index in range(count)]
    )
    orders = env["sale.order"].create(
        [
            {
                "partner_id": partner.id,
                "client_order_ref": f"PO-{label}-{index:04d}",
                "order_line": [Command.create({"product_id": product.id, "product_uom_qty": 80, "price_unit": 110.0})],
            }
            for index, partner in enumerate(partners)
        ]
    )
    orders.action_confirm()
    projects = env["project.project"].create(
        [
            {
                "name": f"Bench {label} engagement {index:04d}",
                "partner_id": order.partner_id.id,
                "allow_timesheets": True,
                "allow_billable": True,
                "sale_line_id": order.order_line.id,
            }
            for index, order in enumerate(orders)
        ]
    )
    timesheets = env["account.analytic.line"].create(
        [
            {
                "name": f"Bench work {line}",
                "project_id": project.id,
                "employee_id": employee.id,
                "so_line": order.order_line.id,
                "date": period_end - timedelta(days=line),
                "unit_amount": 1.0 + (line % 4) * 0.5,
            }
            for order, project in zip(orders, projects, strict=True)
            for line in range(LINES_PER_ORDER)
        ]
    )
    timesheets._psa_set_approval("approved", "approved for the benchmark")
    return orders


class PeakMemory:
    """The peak resident memory of this process while a block runs, sampled every 50 ms (``peak``), and
    how much it grew over what the process held when the block began (``growth``). Memory freed before
    the block (building the data) is handed back to the system first, so the peak is what a worker
    running the block needs."""

    def __enter__(self):
        import ctypes
        import threading

        gc.collect()
        with contextlib.suppress(OSError):  # not glibc: the peak then includes what the allocator kept
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        self.start = self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())
        self.growth = self.peak - self.start


def bill_in_worker(worker, run_id, warm_up_id, profile_path=None):
    """Confirm run ``run_id`` and perform its batch jobs in a fresh Python process (``--worker-run``), after
    the run ``warm_up_id`` (not measured); return that process's figures (``worker_main``)."""
    config, dbname = worker
    command = [sys.executable, os.path.abspath(__file__), "--worker-run", f"{run_id},{warm_up_id}"]
    if profile_path:
        command += ["--profile", profile_path]
    done = subprocess.run(
        command,
        env={**os.environ, "PSA_ODOO_CONFIG": config, "PSA_DB_NAME": dbname},
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("WORKER ")]
    if done.returncode or not lines:
        sys.exit(f"the worker process failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("WORKER ") :])


def worker_main(run_ids, profile_path=None):
    """``--worker-run RUN,WARM_UP``: in this fresh process, bill the warm-up run, then the run (confirm, then
    its batch jobs one per transaction) and print its figures: seconds, queries, the peak memory of the confirm
    and of the jobs (sampled every 50 ms), and the memory before it began."""
    import odoo
    import odoo.sql_db
    from odoo.modules.registry import Registry
    from odoo.tools import config as odoo_config

    run_id, warm_up_id = (int(value) for value in run_ids.split(","))
    odoo_config.parse_config(["-c", os.environ["PSA_ODOO_CONFIG"], "--log-level=warn"])
    registry = Registry(os.environ["PSA_DB_NAME"])

    def bill(billed_id, profile=None):
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            started = time.perf_counter()
            with PeakMemory() as confirm_memory:
                if profile:
                    profile.enable()
                env["psa.billing.run"].browse(billed_id).action_confirm()
                cr.commit()
            confirmed = time.perf_counter()
        with PeakMemory() as jobs_memory:
            perform_jobs_here(registry, "root.psa.billing")
            if profile:
                profile.disable()
        return started, confirmed, confirm_memory, jobs_memory

    bill(warm_up_id)
    gc.collect()
    base = rss_bytes()
    profile = cProfile.Profile() if profile_path else None
    queries = odoo.sql_db.sql_counter
    started, confirmed, confirm_memory, jobs_memory = bill(run_id, profile)
    seconds, queries = time.perf_counter() - started, odoo.sql_db.sql_counter - queries
    if profile:
        profile.dump_stats(profile_path)
    figures = {
        "seconds": seconds,
        "queries": queries,
        "confirm_seconds": confirmed - started,
        "base": base,
        "confirm_peak": confirm_memory.peak,
        "jobs_peak": jobs_memory.peak,
    }
    print("WORKER " + json.dumps(figures), flush=True)


def rss_bytes():
    """This process's resident memory now (Linux ``/proc``)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def timed(env, func):
    cr = env.cr
    queries, started = cr.sql_log_count, time.perf_counter()
    result = func()
    cr.commit()
    return result, time.perf_counter() - started, cr.sql_log_count - queries


def new_run(env, partner_ids, period_end):
    """A fully automatic run (one invoice per order, posted) for the customers ``partner_ids``; the bench scripts'
    one way of making the run they time."""
    return env["psa.billing.run"].create(
        {
            "period_end": period_end,
            "invoice_date": date.today(),
            "partner_ids": [(6, 0, partner_ids)],
            "grouping": "order",
            "mode": "automatic",
            "post_invoices": True,
        }
    )


def measure(env, count, product, employee, worker, with_odoo=True, profile_dir=None, repeats=1):
    """Bill ``count`` orders with our run (``repeats`` times, each on its own identical data set, each followed
    by the ORM floor of the invoices it made), then Odoo's own invoicing once, when ``with_odoo``.

    The run and the floor are each judged on their best round (as ``timeit`` does): on a shared 2-core machine
    one round of either can be 25-50% slower than the next for reasons outside both (measured 2026-12-03: the
    same floor 1.17 s and 1.82 s an hour apart), and a ratio of two single rounds then says more about the
    machine than about the run. Both sides get the same number of rounds, run one after the other.
    """
    period_end = date.today().replace(day=1) - timedelta(days=1)
    sets = [
        make_orders(env, count, f"ours{count}" + (f"r{index}" if index else ""), product, employee, period_end)
        for index in range(repeats)
    ]
    odoo_orders = make_orders(env, count, f"odoo{count}", product, employee, period_end) if with_odoo else None
    warm_ups = [make_orders(env, 3, f"warm{count}r{index}", product, employee, period_end) for index in range(repeats)]
    env.cr.commit()
    # fresh planner statistics for both sides: thousands of rows were just inserted (and the other
    # bench scripts may have added 100,000 time entries before), which autovacuum analyses only later
    env.cr.execute("ANALYZE")

    rounds = []
    for index, (orders, warm_orders) in enumerate(zip(sets, warm_ups, strict=True)):
        run = new_run(env, orders.partner_id.ids, period_end)
        warm_up = new_run(env, warm_orders.partner_id.ids, period_end)
        env.cr.commit()
        env.invalidate_all()
        # the confirm queues the run's batch jobs; a fresh process (a job worker: it did not build the data)
        # confirms the run and performs them one after the other, each in its own transaction, after a small
        # warm-up run: its time and peak memory are the figures. bench_billing_jobs.py measures them on the job
        # runner's workers
        profile = os.path.join(profile_dir, f"run_{count}.pstats") if profile_dir and not index else None
        settle(env.cr.dbname)
        figures = bill_in_worker(worker, run.id, warm_up.id, profile)
        env.invalidate_all()
        invoices = run.invoice_ids
        if len(invoices) != count or set(invoices.mapped("state")) != {"posted"}:
            sys.exit(f"our run made {len(invoices)} invoices ({run.state}), expected {count} posted")
        floor = None
        if with_odoo:
            env.cr.commit()
            settle(env.cr.dbname)
            floor = measure_orm_floor(env, invoices)
        jobs_seconds = figures["seconds"] - figures["confirm_seconds"]
        say(
            f"  round {index + 1}/{repeats}, in a fresh worker process ({figures['base'] / 2**20:.0f} MiB once Odoo"
            f" is loaded and warm): confirm {figures['confirm_seconds']:.2f} s (peak"
            f" {figures['confirm_peak'] / 2**20:.0f} MiB), batch jobs {jobs_seconds:.2f} s (peak"
            f" {figures['jobs_peak'] / 2**20:.0f} MiB)" + (f"; ORM floor {floor:.2f} s" if floor else "")
        )
        rounds.append((figures, invoices, floor))

    figures, ours_invoices, _floor = min(rounds, key=lambda item: item[0]["seconds"])
    result = {
        "count": count,
        "rounds": len(rounds),
        "ours_s": figures["seconds"],
        "ours_q": figures["queries"] / count,
        # the peak while it billed (sampled), the highest of the rounds: the process's ru_maxrss is no measure
        # here, Linux carries the bench process's own size (the data it built) over into it through fork and exec
        "ours_mem": max(max(item[0]["confirm_peak"], item[0]["jobs_peak"]) for item in rounds),
    }
    if not with_odoo:
        return result

    def odoo_invoicing():
        moves = odoo_orders._create_invoices()
        moves.action_post()
        return moves

    env.cr.commit()
    settle(env.cr.dbname)
    odoo_moves, odoo_seconds, odoo_queries = timed(env, odoo_invoicing)
    if len(odoo_moves) != count:
        sys.exit(f"Odoo made {len(odoo_moves)} invoices, expected {count}")
    same_total = abs(sum(ours_invoices.mapped("amount_untaxed")) - sum(odoo_moves.mapped("amount_untaxed"))) < 0.01
    result.update({"odoo_s": odoo_seconds, "odoo_q": odoo_queries / count, "same_total": same_total})
    result["floor_s"] = min(item[2] for item in rounds)
    return result


# Fields a copy of a posted invoice must not carry: posting numbers and states, reconciliation and
# hashes are Odoo's to set; everything else (amounts, accounts, taxes, terms, links) is given.
FLOOR_MOVE_SKIP = {
    "name", "state", "posted_before", "sequence_prefix", "sequence_number", "made_sequence_gap",
    "payment_state", "inalterable_hash", "secure_sequence_number", "access_token", "message_main_attachment_id",
}  # fmt: skip
FLOOR_LINE_SKIP = {"move_id", "move_name", "parent_state", "matching_number", "reconciled", "full_reconcile_id"}


def measure_orm_floor(env, template_moves, stats=None, chunk=None):
    """The least any invoicing through Odoo's ORM can cost for these invoices (seconds).

    Created and posted ``chunk`` invoices at a time (default: the run's batch size, 50), as the run
    creates and posts them: one ``create`` of 200 invoices costs more per invoice than four of 50
    (measured: 34.5 against 23.4 ms per invoice), and the floor is the least, not one way of doing it.

    Every invoice of ``template_moves`` is created again with all its values already computed
    (product, tax and payment-term lines given, so Odoo's line synchronisation is skipped, and
    "Checked" ticked as the run does for its batch) and posted with Odoo's ``action_post``: what is
    left is the ORM's own cost of writing and posting journal entries with the hooks of the installed
    add-ons. Measured inside a savepoint rolled back
    afterwards, so nothing of it stays. ``stats`` (a dict), when given, gets the ``queries`` and the
    ``cpu`` seconds (this process) of the create and post, profiled into its ``profile`` if it has one.
    """
    from odoo import Command

    def writable(model, skip):
        return [
            name
            for name, field in model._fields.items()
            if field.store and field.column_type and name not in skip and name not in models_magic
            and not (field.compute and field.readonly) and not field.related
        ]  # fmt: skip

    models_magic = {"id", "create_uid", "create_date", "write_uid", "write_date"}
    move_fields = writable(env["account.move"], FLOOR_MOVE_SKIP)
    line_fields = writable(env["account.move.line"], FLOOR_LINE_SKIP)

    def values(record, names):
        return {name: record._fields[name].convert_to_write(record[name], record) for name in names}

    vals_list = []
    for move in template_moves:
        vals = values(move, move_fields)
        vals["line_ids"] = [
            Command.create(
                {
                    **values(line, line_fields),
                    "tax_ids": [Command.set(line.tax_ids.ids)],
                    "tax_tag_ids": [Command.set(line.tax_tag_ids.ids)],
                    "sale_line_ids": [Command.set(line.sale_line_ids.ids)],
                }
            )
            for line in move.line_ids
        ]
        vals_list.append(vals)
    env.invalidate_all()

    class RollbackError(Exception):
        pass

    seconds = None
    try:
        with env.cr.savepoint():
            profile = (stats or {}).get("profile")
            if profile:
                profile.enable()
            size = chunk or int(env["ir.config_parameter"].sudo().get_param("psa_timesheet_billing.run_batch_size", 50))
            started, queries, cpu = time.perf_counter(), env.cr.sql_log_count, time.process_time()
            moves = env["account.move"]
            for index in range(0, len(vals_list), size):
                created = (
                    env["account.move"]
                    .with_context(skip_invoice_sync=True, check_move_validity=False, mail_create_nolog=True)
                    .create(vals_list[index : index + size])
                )
                # "Checked" is already given, so posting's own tick per invoice is skipped, as in our run
                created.with_context(mail_create_nolog=True, psa_skip_unchanged_checked=True).action_post()
                env.flush_all()
                moves |= created
            seconds = time.perf_counter() - started
            if profile:
                profile.disable()
            if stats is not None:
                stats.update(queries=env.cr.sql_log_count - queries, cpu=time.process_time() - cpu)
            same = abs(sum(moves.mapped("amount_total")) - sum(template_moves.mapped("amount_total"))) < 0.01
            if not same or set(moves.mapped("state")) != {"posted"}:
                sys.exit("the ORM floor copies differ from the invoices they copy")
            raise RollbackError
    except RollbackError:
        pass
    env.invalidate_all()
    return seconds


def report(result):
    count = result["count"]
    if "odoo_s" not in result:
        ours_ms = 1000 * result["ours_s"] / count
        say(
            f"{count} orders x {LINES_PER_ORDER} lines: ours {result['ours_s']:.2f} s ({ours_ms:.1f} ms/invoice, "
            f"{result['ours_q']:.1f} queries/invoice) | Odoo not measured at this size"
        )
        figure = f"billing run, {count} orders x {LINES_PER_ORDER} lines"
        target = "< 60 s" if count == 1000 else ""
        bench_line(
            figure=f"{figure}: seconds",
            ours=round(result["ours_s"], 2),
            unit="s",
            target=target,
            met=(result["ours_s"] < 60) if target else None,
        )
        bench_line(figure=f"{figure}: ms per invoice", ours=round(ours_ms, 1), unit="ms")
        bench_line(figure=f"{figure}: queries per invoice", ours=round(result["ours_q"], 1))
        return
    ours_ms, odoo_ms = 1000 * result["ours_s"] / count, 1000 * result["odoo_s"] / count
    ratio = result["odoo_s"] / result["ours_s"]
    say(
        f"{count} orders x {LINES_PER_ORDER} lines: ours {result['ours_s']:.2f} s ({ours_ms:.1f} ms/invoice, "
        f"{result['ours_q']:.1f} queries/invoice) | Odoo {result['odoo_s']:.2f} s ({odoo_ms:.1f} ms/invoice, "
        f"{result['odoo_q']:.1f} queries/invoice) | Odoo/ours {ratio:.2f}x | same untaxed total: {result['same_total']}"
    )
    figure = f"billing run, {count} orders x {LINES_PER_ORDER} lines"
    # One process against Odoo's one process: issue 5 asked 5x here and stays blocked on it (the ORM floor
    # alone is a third of Odoo's time, see the README). The speed target is carried by bench_billing_jobs.py:
    # the same 200 orders on 2 job workers at least 4x Odoo's own single-process invoicing (issue 17).
    # Printed for the record, not judged.
    bench_line(
        figure=f"{figure}: seconds, 1 process",
        ours=round(result["ours_s"], 2),
        odoo=round(result["odoo_s"], 2),
        unit="s",
        target=f"(issue 5's {TARGET_RATIO:.0f}x in 1 process: blocked; >= 4x on 2 workers: bench_billing_jobs)"
        if count >= 200
        else "",
        met=None,
    )
    bench_line(figure=f"{figure}: ms per invoice", ours=round(ours_ms, 1), odoo=round(odoo_ms, 1), unit="ms")
    bench_line(
        figure=f"{figure}: queries per invoice", ours=round(result["ours_q"], 1), odoo=round(result["odoo_q"], 1)
    )
    floor = result.get("floor_s")
    if floor:
        # what 5x needs against the least Odoo's ORM can do for these invoices
        say(
            f"{count} orders: Odoo's create + post with every value precomputed (ORM floor) {floor:.2f} s; "
            f"{TARGET_RATIO:.0f}x faster than Odoo needs {result['odoo_s'] / TARGET_RATIO:.2f} s for the whole run "
            f"| Odoo/floor {result['odoo_s'] / floor:.2f}x"
        )
        # what 5x in one process would need: informational (issue 5 is blocked on it)
        bench_line(
            figure=f"{figure}: ORM floor (create + post, all values given)",
            ours=round(floor, 2),
            odoo=round(result["odoo_s"], 2),
            unit="s",
            target=f"({TARGET_RATIO:.0f}x in 1 process needs <= {result['odoo_s'] / TARGET_RATIO:.2f} s)",
            met=None,
        )
        # what the run adds on top of Odoo's own create and post of the same invoices (issue 17), each side
        # on its best round. Judged on the issue's own data, FLOOR_SIZE orders and more: a run has a cost of
        # its own whatever its size (its two collects, the finishing job: about 0.3 s), which weighs four
        # times more per invoice at 50 orders. Smaller runs are printed for the record.
        over_floor = result["ours_s"] / floor
        best = f"best of {result['rounds']} rounds each" if result["rounds"] > 1 else "1 round each"
        judged = count >= FLOOR_SIZE
        say(
            f"{count} orders: our run / ORM floor {over_floor:.2f}x, {best} (target <= {FLOOR_TARGET}x"
            + ("" if judged else f" from {FLOOR_SIZE} orders: not judged at {count}")
            + ")"
        )
        bench_line(
            figure=f"{figure}: run / ORM floor ({best})",
            ours=round(over_floor, 2),
            unit="x",
            target=f"<= {FLOOR_TARGET}x" if judged else f"(<= {FLOOR_TARGET}x from {FLOOR_SIZE} orders)",
            met=over_floor <= FLOOR_TARGET if judged else None,
        )


def report_flatness(results):
    """Cost per invoice of the largest run against the smallest (target: at most 1.3x)."""
    if len(results) < 2:
        return
    small, large = min(results, key=lambda r: r["count"]), max(results, key=lambda r: r["count"])
    small_ms, large_ms = 1000 * small["ours_s"] / small["count"], 1000 * large["ours_s"] / large["count"]
    ratio = large_ms / small_ms
    say(
        f"cost per invoice, {large['count']} vs {small['count']} orders: {large_ms:.1f} / {small_ms:.1f} ms "
        f"= {ratio:.2f}x (target <= 1.3x)"
    )
    bench_line(
        figure=f"billing run: ms per invoice at {large['count']} / at {small['count']} orders",
        ours=round(ratio, 2),
        unit="x",
        target="<= 1.3x",
        met=ratio <= 1.3,
    )


def report_scale(results, sizes=SCALE_SIZES):
    """10,000 orders against 1,000: cost per invoice and the process's peak memory during the run
    (``PeakMemory``; targets 1.2x); the rows
    say "not measured" unless both sizes ran (``--sizes``/``PSA_BENCH_SIZES`` with 1000 and 10000)."""
    small_count, large_count = sizes
    by_count = {result["count"]: result for result in results}
    small, large = by_count.get(small_count), by_count.get(large_count)
    figure = f"billing run, {large_count:,} vs {small_count:,} orders"
    if not (small and large):
        say(f"{figure}: not measured (sizes {small_count} and {large_count} not both run)")
        for what in ("cost per invoice", "peak worker memory"):
            bench_line(figure=f"{figure}: {what} (not measured)", ours=None, unit="x", target=f"<= {SCALE_TARGET}x")
        return
    cost = (large["ours_s"] / large["count"]) / (small["ours_s"] / small["count"])
    memory = large["ours_mem"] / small["ours_mem"] if small["ours_mem"] else float("inf")
    say(
        f"{figure}: cost per invoice {cost:.2f}x, peak memory of the run {large['ours_mem'] / 2**20:.0f} MiB "
        f"/ {small['ours_mem'] / 2**20:.0f} MiB = {memory:.2f}x (targets <= {SCALE_TARGET}x)"
    )
    bench_line(
        figure=f"{figure}: cost per invoice", ours=round(cost, 2), unit="x", target=f"<= {SCALE_TARGET}x",
        met=cost <= SCALE_TARGET,
    )  # fmt: skip
    bench_line(
        figure=f"{figure}: peak worker memory", ours=round(memory, 2), unit="x", target=f"<= {SCALE_TARGET}x",
        met=memory <= SCALE_TARGET,
    )  # fmt: skip


def check_concurrency(registry, count, product, employee):
    """Two runs over the same customers confirmed at the same moment, each in its own transaction.

    Exactly once means: every order line invoiced once, every timesheet on one invoice, nothing left.
    """
    import threading

    import odoo

    period_end = date.today().replace(day=1) - timedelta(days=1)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        orders = make_orders(env, count, f"race{count}", product.with_env(env), employee.with_env(env), period_end)
        runs = env["psa.billing.run"].create(
            [
                {
                    "period_end": period_end,
                    "invoice_date": date.today(),
                    "partner_ids": [(6, 0, orders.partner_id.ids)],
                    "grouping": "order",
                }
                for _index in range(2)
            ]
        )
        runs.action_preview()
        order_ids, run_ids = orders.ids, runs.ids
        cr.commit()

    barrier, outcomes = threading.Barrier(2), {}

    def confirm(run_id):
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            run = env["psa.billing.run"].with_context(queue_job__no_delay=True).browse(run_id)
            barrier.wait()
            try:
                run.action_confirm()
                cr.commit()
                reason = run.line_ids.filtered(lambda line: line.state == "failed")[:1].skip_reason or ""
                outcomes[run_id] = (
                    f"{run.state}, {run.invoice_count} invoice(s), {run.failed_count} failed line(s) {reason}".strip()
                )
            except Exception as exc:  # noqa: BLE001 - report what the second transaction saw
                cr.rollback()
                outcomes[run_id] = f"aborted: {exc}"

    threads = [threading.Thread(target=confirm, args=(run_id,)) for run_id in run_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        sale_lines = env["sale.order"].browse(order_ids).order_line
        invoiced = [len(line.invoice_lines.filtered(lambda aml: aml.move_id.state != "cancel")) for line in sale_lines]
        timesheets = env["account.analytic.line"].search([("so_line", "in", sale_lines.ids)])
        twice, missing = sum(1 for n in invoiced if n > 1), sum(1 for n in invoiced if n == 0)
        unlinked = len(timesheets.filtered(lambda line: not line.timesheet_invoice_id))
    for run_id in run_ids:
        say(f"concurrency check, run {run_id}: {outcomes.get(run_id)}")
    say(
        f"concurrency check, {count} orders, 2 runs at once: order lines invoiced twice {twice}, "
        f"never {missing}; timesheets without invoice {unlinked}"
    )
    bench_line(
        figure=f"2 concurrent runs on {count} orders: order lines billed twice / missing",
        ours=twice + missing,
        unit="lines",
        target="0",
        met=twice + missing == 0 and unlinked == 0,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev-pg", help="dev cluster directory (socket/, port); stand-alone mode")
    parser.add_argument("--sizes", default=os.environ.get("PSA_BENCH_SIZES", "50,200"))
    parser.add_argument("--odoo-up-to", type=int, default=200, help="measure Odoo's own invoicing up to this size")
    parser.add_argument(
        "--scale-sizes", default=",".join(map(str, SCALE_SIZES)), help="the two sizes the scale rows compare"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=int(os.environ.get("PSA_BENCH_REPEATS", 3)),
        help="rounds of our run and of the ORM floor at the sizes Odoo is measured at (the best of each is kept)",
    )
    parser.add_argument("--race", type=int, default=10, help="orders in the two-concurrent-runs check (0: skip)")
    parser.add_argument("--profile", metavar="DIR", help="write each size's run profile to DIR/run_<size>.pstats")
    parser.add_argument("--worker-run", help=argparse.SUPPRESS)  # the fresh worker process (bill_in_worker)
    options = parser.parse_args()
    options.repeats = max(1, options.repeats)
    if options.worker_run:
        worker_main(options.worker_run, options.profile)
        return
    sizes = [int(size) for size in options.sizes.split(",") if size.strip()]

    work = tempfile.mkdtemp(prefix="psa-bench-billing-")
    drop = None
    try:
        if os.environ.get("PSA_ODOO_CONFIG") and not options.dev_pg:
            config, dbname = os.environ["PSA_ODOO_CONFIG"], os.environ["PSA_DB_NAME"]
        elif options.dev_pg:
            config, dbname, drop = prepare_dev_database(options.dev_pg, work, "psa_timesheet_billing", "bench_billing")
        else:
            sys.exit("give --dev-pg <dir> or run under scripts/psa_dev.py bench")

        import odoo
        from odoo.modules.registry import Registry
        from odoo.tools import config as odoo_config

        odoo_config.parse_config(["-c", config, "--log-level=warn"])
        registry = Registry(dbname)
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            uom_hour = env.ref("uom.product_uom_hour")
            product = env["product.product"].create(
                {
                    "name": "Bench consulting (hourly)",
                    "type": "service",
                    "invoice_policy": "delivery",
                    "service_type": "timesheet",
                    "list_price": 110.0,
                    "uom_id": uom_hour.id,
                    "uom_po_id": uom_hour.id,
                }
            )
            employee = env["hr.employee"].create({"name": "Bench consultant"})
            cr.commit()
            results = []
            for count in sizes:
                with_odoo = count <= options.odoo_up_to
                sets = f"{options.repeats + 1} x " if with_odoo else ""
                say(f"building {sets}{count} orders x {LINES_PER_ORDER} approved timesheet lines ...")
                results.append(
                    measure(
                        env,
                        count,
                        product,
                        employee,
                        (config, dbname),
                        with_odoo=with_odoo,
                        profile_dir=options.profile,
                        repeats=options.repeats if with_odoo else 1,
                    )
                )
                report(results[-1])
            report_flatness(results)
            report_scale(results, tuple(int(size) for size in options.scale_sizes.split(",")))
        if options.race:
            check_concurrency(registry, options.race, product, employee)
    finally:
        if drop:
            drop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
