#!/usr/bin/env python3
"""10,000 RMM events through the real, signed batch endpoint of psa_rmm (issue 7).

A live Odoo HTTP server on 127.0.0.1 receives 10 signed batches of 1,000 events (per batch: 600 device
upserts, 200 new alerts, 100 repeats, 100 auto-resolves, as an RMM would post them) on
``POST /psa/rmm/<integration>/events``. Timed from the first request until the last delivery's processing job
is done (target: under 60 s).
Then the RMM retries the first batch with a new signature (every event must come back "duplicate", nothing
created), replays the very same signed request (409), and posts one request 4 times at the same moment
(exactly one 200, no 5xx, one ticket, no ERROR line in the server log), and the same 50 new events in two
differently signed requests at once (50 tickets: one answer "received", the other "duplicate").

Prints human lines and ``BENCH {...}`` JSON lines (the format ``scripts/psa_dev.py bench`` collects).

Database:
* under ``scripts/psa_dev.py bench``: ``PSA_ODOO_CONFIG`` and ``PSA_DB_NAME`` name a database that
  already has the add-ons;
* stand-alone: ``python3 bench/bench_rmm_events.py --dev-pg /work/main/.local/devpg`` creates a database
  from that dev cluster's dependency template (``tpl_*``), installs psa_rmm (no demo data), measures, and
  drops the database again.
"""

import argparse
import concurrent.futures
import json
import os
import shutil
import sys
import tempfile
import time
import uuid

from _job_workers import wait_for_jobs
from _odoo import REPO, prepare_dev_database, report

# the live server, signed posts and its log's error lines as the end-to-end suite has them
sys.path.insert(0, os.path.join(REPO, "tests"))
from conftest import OdooServer, post_json, rmm_headers

BATCHES = 10
BATCH_SIZE = 1000
TARGET_SECONDS = 60.0
RACERS = 4
RMM_CHANNEL = "root.psa.rmm"


def say(message):
    print(message, flush=True)


# ------------------------------------------------------------------------------------------------
# Data, requests, measures
# ------------------------------------------------------------------------------------------------
def setup_integration(registry):
    """A native integration (one site, one customer) charging auto-resolved alerts; returns (id, secret)."""
    import odoo

    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        suffix = uuid.uuid4().hex[:6]
        customer = env["res.partner"].create({"name": f"Bench RMM customer {suffix}", "is_company": True})
        team = env["helpdesk.ticket.team"].create({"name": f"Bench RMM desk {suffix}"})
        product = env["product.product"].create({"name": "Bench auto-remediation", "type": "service"})
        integration = env["psa.rmm.integration"].create(
            {
                "name": f"Bench RMM {suffix}",
                "kind": "native",
                "team_id": team.id,
                "charge_product_id": product.id,
                "event_price": 20.0,
                "included_events": 50,
                "overage_price": 15.0,
                "max_body_bytes": 50_000_000,
                "site_ids": [(0, 0, {"rmm_site_id": "bench-site", "partner_id": customer.id})],
            }
        )
        return integration.id, integration.secret


def count_records(registry, integration_id):
    import odoo

    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        domain = [("psa_rmm_integration_id", "=", integration_id)]
        return {
            "tickets": env["helpdesk.ticket"].search_count(domain),
            "events": env["psa.rmm.event"].search_count([("integration_id", "=", integration_id)]),
            "charges": env["psa.rmm.charge"].search_count([("integration_id", "=", integration_id)]),
        }


def event(event_id, event_type, device, alert_id=None):
    payload = {
        "id": event_id,
        "type": event_type,
        "occurred_at": "2026-11-10T08:00:00Z",
        "site_id": "bench-site",
        "device": {"id": device, "name": f"BENCH-{device}", "type": "workstation"},
    }
    if alert_id:
        payload["alert"] = {"id": alert_id, "severity": "warning", "title": "Disk almost full", "message": "9% free"}
    return payload


def make_batch(number):
    events = []
    for index in range(BATCH_SIZE):
        kind = index % 10
        device = f"dev-{(number * BATCH_SIZE + index) % 2000}"
        event_id = f"b{number}-{index}"
        if kind < 6:
            events.append(event(event_id, "device.upserted", device))
            continue
        alert = f"alert-{number}-{index // 10}" + ("-b" if kind == 7 else "")
        event_type = {6: "alert.raised", 7: "alert.raised", 8: "alert.updated", 9: "alert.auto_resolved"}[kind]
        events.append(event(event_id, event_type, device, alert_id=alert))
    return {"events": events}


def signed_post(url, secret, body, timestamp=None, timeout=600):
    """POST ``body`` signed as the RMM would (the end-to-end suite's helpers)."""
    return post_json(url, body, rmm_headers(secret, body, timestamp), timeout=timeout)


def run(registry, server):
    integration_id, secret = setup_integration(registry)
    url = f"{server.url}/psa/rmm/{integration_id}/events"
    bodies = [json.dumps(make_batch(number)).encode() for number in range(BATCHES)]
    say(f"posting {BATCHES} signed batches of {BATCH_SIZE} events to {url}")
    summary, started = {}, time.perf_counter()
    for body in bodies:
        status, answer = signed_post(url, secret, body)
        if status != 200:
            sys.exit(f"batch refused: {status} {answer}")
        for key, value in answer["summary"].items():
            summary[key] = summary.get(key, 0) + value
    answered = time.perf_counter() - started
    # the endpoint stored the deliveries and answered; their processing runs as jobs on root.psa.rmm
    _waited, job_states = wait_for_jobs(registry, RMM_CHANNEL)
    seconds = time.perf_counter() - started
    say(f"answered in {answered:.1f} s, processed by {seconds:.1f} s; jobs {job_states}")
    counts = count_records(registry, integration_id)

    # the RMM retries the first batch later: new timestamp, new signature, same event ids
    time.sleep(1)
    status, retry = signed_post(url, secret, bodies[0])
    duplicates = retry["summary"].get("duplicate", 0) if status == 200 else 0
    # the very same signed request again: a replay
    timestamp = int(time.time())
    replay_statuses = [signed_post(url, secret, bodies[1], timestamp=timestamp)[0] for _ in range(2)]
    after_retry = count_records(registry, integration_id)

    # one new alert posted RACERS times at the same moment (an RMM's parallel retries)
    race_body = json.dumps(event("race-1", "alert.raised", "dev-race", alert_id="alert-race")).encode()
    race_timestamp = int(time.time())
    with concurrent.futures.ThreadPoolExecutor(max_workers=RACERS) as pool:
        futures = [pool.submit(signed_post, url, secret, race_body, race_timestamp) for _ in range(RACERS)]
        race_statuses = sorted(future.result()[0] for future in futures)
    wait_for_jobs(registry, RMM_CHANNEL)
    race_tickets = count_records(registry, integration_id)["tickets"] - after_retry["tickets"]
    # the same new events in two differently signed requests at once (an RMM retrying while the first is
    # still being processed): one processes them, the other answers each as a duplicate
    twin_body = json.dumps(
        [event(f"twin-{n}", "alert.raised", "dev-twin", alert_id=f"alert-twin-{n}") for n in range(50)]
    ).encode()
    before_twins = count_records(registry, integration_id)["tickets"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(signed_post, url, secret, twin_body, race_timestamp + n + 1) for n in range(2)]
        twin_answers = [future.result() for future in futures]
    wait_for_jobs(registry, RMM_CHANNEL)
    twin_summaries = sorted(json.dumps(answer.get("summary")) for _status, answer in twin_answers)
    twin_tickets = count_records(registry, integration_id)["tickets"] - before_twins
    error_lines = [line.rstrip() for line in server.error_lines()]

    rate = BATCHES * BATCH_SIZE / seconds
    say(
        f"{BATCHES * BATCH_SIZE} events in {seconds:.1f} s ({rate:.0f} events/s): {summary}; "
        f"{counts['tickets']} tickets, {counts['charges']} charges"
    )
    say(
        f"retry of a batch: {duplicates}/{BATCH_SIZE} duplicates, nothing created "
        f"({after_retry['events'] - counts['events']} new events); replay of a signed request: {replay_statuses}"
    )
    say(
        f"{RACERS} identical requests at once: statuses {race_statuses}, {race_tickets} ticket(s) created; "
        f"{len(error_lines)} ERROR/CRITICAL line(s) in the server log"
    )
    say(
        f"same 50 new events in 2 requests at once: statuses {[status for status, _a in twin_answers]}, "
        f"summaries {twin_summaries}, {twin_tickets} ticket(s) created"
    )
    for line in error_lines[:10]:
        say(f"    {line}")
    report(
        figure=f"psa_rmm: {BATCHES * BATCH_SIZE:,} signed events through the batch endpoint, processed by jobs",
        ours=round(seconds, 1),
        unit="s",
        target=f"< {TARGET_SECONDS:.0f} s",
        met=seconds < TARGET_SECONDS and summary == {"received": BATCHES * BATCH_SIZE},
    )
    report(figure="psa_rmm: events per second through the endpoint and its jobs", ours=round(rate), unit="events/s")
    report(
        figure=f"psa_rmm: retried batch of {BATCH_SIZE}, events answered duplicate",
        ours=duplicates,
        unit="events",
        target=str(BATCH_SIZE),
        met=duplicates == BATCH_SIZE and after_retry["events"] == counts["events"] and replay_statuses == [200, 409],
    )
    report(
        figure=f"psa_rmm: {RACERS} identical requests at once, 5xx / extra tickets / ERROR lines",
        ours=sum(1 for s in race_statuses if s >= 500) + abs(race_tickets - 1) + len(error_lines),
        unit="",
        target="0",
        met=race_statuses == [200] + [409] * (RACERS - 1) and race_tickets == 1 and not error_lines,
    )
    report(
        figure="psa_rmm: same 50 new events in 2 requests at once, tickets created",
        ours=twin_tickets,
        unit="tickets",
        target="50",
        met=twin_tickets == 50
        and [status for status, _a in twin_answers] == [200, 200]
        and twin_summaries == ['{"duplicate": 50}', '{"received": 50}'],
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev-pg", help="dev cluster directory (socket/, port); stand-alone mode")
    options = parser.parse_args()

    work = tempfile.mkdtemp(prefix="psa-bench-rmm-")
    drop = None
    try:
        if os.environ.get("PSA_ODOO_CONFIG") and not options.dev_pg:
            config, dbname = os.environ["PSA_ODOO_CONFIG"], os.environ["PSA_DB_NAME"]
        elif options.dev_pg:
            config, dbname, drop = prepare_dev_database(
                options.dev_pg, work, "psa_rmm", "bench_rmm", demo=False, log_level="info"
            )
            # the server's job runner processes the deliveries (queue_job loaded server-wide)
            with open(config, "a", encoding="utf-8") as handle:
                handle.write(
                    "server_wide_modules = base,web,queue_job\n\n[queue_job]\nchannels = root:2,root.psa.rmm:2\n"
                )
        else:
            sys.exit("give --dev-pg <dir> or run under scripts/psa_dev.py bench")

        import odoo
        from odoo.modules.registry import Registry
        from odoo.tools import config as odoo_config

        odoo_config.parse_config(["-c", config, "--log-level=warn"])
        registry = Registry(dbname)
        os.environ.setdefault("PSA_WORK_DIR", work)  # where the server writes its log
        server = OdooServer(config, dbname, sys.executable).start()
        try:
            run(registry, server)
        finally:
            server.stop()
            odoo.sql_db.close_db(dbname)
    finally:
        if drop:
            drop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
