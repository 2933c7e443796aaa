"""Queue-job workers for the bench scripts: a prefork Odoo server whose job runner feeds N worker processes,
and helpers that wait for (or, in this process, perform) the jobs of one channel.

A "job worker" here is one Odoo HTTP worker process of a prefork server (``--workers N``) with the channel's
capacity set to N: queue_job's runner (its own process in prefork mode) dispatches one job per free worker,
as in production. The server is started from the bench's Odoo configuration (``PSA_ODOO_CONFIG``), with the
workers, the capacities and a free port overridden; nothing in ``scripts/psa_dev.py`` changes.
"""

import configparser
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from _odoo import REPO

# Odoo's command line from a file (``scripts/odoo_launcher.py``), not ``python -c``: the prefork master starts
# its websocket worker by running ``<python> <sys.argv[0]> gevent ...``; with ``-c`` as ``sys.argv[0]`` that
# child dies at once and the master starts it again, over and over, taking most of a core from the workers.
ODOO_LAUNCHER = os.path.join(REPO, "scripts", "odoo_launcher.py")
LIVE_STATES = ("wait_dependencies", "pending", "enqueued", "started")


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker_config(base_config, workdir, workers, channel):
    """A copy of ``base_config`` for a prefork server with ``workers`` HTTP workers and ``channel`` at
    capacity ``workers``; returns ``(path, port)``."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(base_config)
    port = _free_port()
    options = parser["options"] if parser.has_section("options") else parser.setdefault("options", {})
    options.update(
        {
            "http_port": str(port),
            "http_interface": "127.0.0.1",
            "gevent_port": str(_free_port()),
            "workers": str(workers),
            "max_cron_threads": "0",
            "limit_time_real": "1200",
            "limit_time_cpu": "1200",
            "limit_memory_soft": str(4 * 1024**3),
            "limit_memory_hard": str(5 * 1024**3),
            "server_wide_modules": "base,web,queue_job",
            "log_level": "warn",
        }
    )
    if not parser.has_section("queue_job"):
        parser.add_section("queue_job")
    parser["queue_job"]["channels"] = f"root:{workers},{channel}:{workers}"
    path = os.path.join(workdir, f"odoo-workers-{workers}.conf")
    with open(path, "w", encoding="utf-8") as handle:
        parser.write(handle)
    return path, port


@contextlib.contextmanager
def job_server(dbname, workers, channel, base_config=None, timeout=180, registry=None):
    """A prefork server on ``dbname`` running ``channel``'s jobs on ``workers`` processes, for the block.

    With ``registry`` (the bench's own, on ``dbname``), every worker process has run a job before the block
    starts (``warm_up``): a worker loads the database's registry at its first job, seconds that a long-lived
    production worker pays once, not per run, and that would otherwise count against the run with more
    workers."""
    base_config = base_config or os.environ["PSA_ODOO_CONFIG"]
    with tempfile.TemporaryDirectory(prefix="psa-bench-workers-") as workdir:
        config, port = worker_config(base_config, workdir, workers, channel)
        log_path = os.path.join(workdir, "odoo.log")
        with open(log_path, "w", encoding="utf-8") as log:
            proc = subprocess.Popen(
                [sys.executable, ODOO_LAUNCHER, "-c", config, "-d", dbname, "--db-filter", f"^{dbname}$"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                deadline = time.monotonic() + timeout
                while True:
                    if proc.poll() is not None:
                        raise RuntimeError(f"the job server exited ({proc.returncode}):\n{_tail(log_path)}")
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}/web/login", timeout=5) as answer:
                            if answer.status == 200:
                                break
                    except OSError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the job server did not answer within {timeout} s:\n{_tail(log_path)}")
                    time.sleep(0.5)
                if registry is not None:
                    warm_up(registry, channel, workers)
                yield proc
            finally:
                proc.terminate()
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(30)
                errors = [
                    line for line in _tail(log_path, 10_000).splitlines() if " ERROR " in line or " CRITICAL " in line
                ]
                if errors:
                    print(f"job server ({workers} workers) logged {len(errors)} error lines, first: {errors[0]}")


def warm_up(registry, channel, workers, rounds=10):
    """Run small jobs on ``channel`` until ``workers`` distinct worker processes have each done one (each loads
    the registry then), and forget them."""
    from odoo import SUPERUSER_ID, api

    for _round in range(rounds):
        with registry.cursor() as cr:
            users = api.Environment(cr, SUPERUSER_ID, {})["res.users"].browse(SUPERUSER_ID)
            for index in range(2 * workers):
                users.with_delay(channel=channel, description=f"bench warm-up {index}").exists()
        wait_for_jobs(registry, channel, timeout=300)
        with registry.cursor() as cr:
            cr.execute(
                "SELECT count(DISTINCT worker_pid) FROM queue_job WHERE channel = %s AND name LIKE 'bench warm-up %%'",
                (channel,),
            )
            (pids,) = cr.fetchone()
            cr.execute("DELETE FROM queue_job WHERE channel = %s AND name LIKE 'bench warm-up %%'", (channel,))
        if pids >= workers:
            return
    raise RuntimeError(f"only {pids} of {workers} job workers ran a warm-up job")


def timeline(registry, channel, since_id=0):
    """What the channel's done jobs (id > ``since_id``) did: ``{"jobs", "busy" (the sum of their own durations,
    s), "span" (first start to last end, s), "parallel" (busy / span: jobs running at once on average),
    "queued" (enqueue of the first to start of the first, s)}``. A busy sum that grows with the workers says
    they slow each other down (the cores, PostgreSQL, a lock); a parallel figure under the workers says they
    wait for work."""
    with registry.cursor() as cr:
        cr.execute(
            "SELECT count(*), sum(extract(epoch FROM date_done - date_started)),"
            " extract(epoch FROM max(date_done) - min(date_started)),"
            " extract(epoch FROM min(date_started) - min(date_created))"
            " FROM queue_job WHERE channel = %s AND state = 'done' AND id > %s",
            (channel, since_id),
        )
        jobs, busy, span, queued = cr.fetchone()
    busy, span, queued = float(busy or 0), float(span or 0), float(queued or 0)
    return {"jobs": jobs, "busy": busy, "span": span, "parallel": busy / span if span else 0.0, "queued": queued}


def job_table(registry, channel, since_id=0):
    """One line per done job of the channel (id > ``since_id``), in the order they started: its start and end
    (seconds after the first job was queued), its worker's pid, its retries and its method."""
    with registry.cursor() as cr:
        cr.execute(
            "SELECT min(date_created) FROM queue_job WHERE channel = %s AND id > %s",
            (channel, since_id),
        )
        (origin,) = cr.fetchone()
        cr.execute(
            "SELECT extract(epoch FROM date_started - %s), extract(epoch FROM date_done - %s), worker_pid, retry,"
            " method_name FROM queue_job WHERE channel = %s AND state = 'done' AND id > %s ORDER BY date_started",
            (origin, origin, channel, since_id),
        )
        rows = cr.fetchall()
    return [
        f"      {start:6.2f} -> {end:6.2f} s  pid {pid}  retry {retry}  {method}"
        for start, end, pid, retry, method in rows
    ]


def describe(timeline_row):
    row = timeline_row
    return (
        f"{row['jobs']} jobs busy {row['busy']:.1f} s in a span of {row['span']:.1f} s "
        f"({row['parallel']:.2f} at once), first started {row['queued']:.1f} s after the first was queued"
    )


def _tail(path, lines=40):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return "".join(handle.readlines()[-lines:])


def live_job_count(cr, channel):
    cr.execute("SELECT count(*) FROM queue_job WHERE channel = %s AND state IN %s", (channel, LIVE_STATES))
    return cr.fetchone()[0]


def wait_for_jobs(registry, channel, timeout=3600, poll=0.2):
    """Wait until no job of ``channel`` is waiting or running; return ``(seconds, {state: count})`` of the
    channel's jobs."""
    started = time.perf_counter()
    while True:
        with registry.cursor() as cr:
            if not live_job_count(cr, channel):
                cr.execute("SELECT state, count(*) FROM queue_job WHERE channel = %s GROUP BY state", (channel,))
                return time.perf_counter() - started, dict(cr.fetchall())
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"jobs of {channel} still running after {timeout} s")
        time.sleep(poll)


def clear_jobs(registry, channel):
    """Forget the channel's finished jobs (the next round counts its own)."""
    with registry.cursor() as cr:
        cr.execute("DELETE FROM queue_job WHERE channel = %s AND state IN ('done', 'failed', 'cancelled')", (channel,))


def perform_jobs_here(registry, channel):
    """Perform the channel's pending jobs one by one in this process, each in its own transaction, the way a
    job worker does (started, performed, done, committed); return how many ran."""
    from odoo import SUPERUSER_ID, api

    from odoo.addons.queue_job.job import Job

    count = 0
    while True:
        with registry.cursor() as cr:
            cr.execute(
                "SELECT uuid FROM queue_job WHERE channel = %s AND state = 'pending'"
                " ORDER BY priority, date_created, id LIMIT 1 FOR UPDATE SKIP LOCKED",
                (channel,),
            )
            row = cr.fetchone()
            if not row:
                return count
            env = api.Environment(cr, SUPERUSER_ID, {})
            job = Job.load(env, row[0])
            job.set_started()
            job.store()
            result = job.perform()
            env.flush_all()
            job.set_done(result=result)
            job.store()
            env.flush_all()
            cr.commit()
            count += 1
