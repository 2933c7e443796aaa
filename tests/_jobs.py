"""Waiting for queue_job jobs in the end-to-end tests.

The server under test runs queue_job's job runner (threaded mode): what a cron or a request enqueues is done a
moment later by a job worker. A test that checks the outcome first waits for the jobs, with a timeout.
"""

import time

LIVE_STATES = ["wait_dependencies", "pending", "enqueued", "started"]


def live_jobs(rpc, channel=None):
    """The ids of the jobs of ``channel`` (and its sub-channels) not finished yet, over XML-RPC."""
    domain = [("state", "in", LIVE_STATES)]
    if channel:
        domain += ["|", ("channel", "=", channel), ("channel", "=like", f"{channel}.%")]
    return rpc("queue.job", "search", domain)


def wait_for_jobs(rpc, channel=None, timeout=120, poll=0.25):
    """Wait until no job of ``channel`` is waiting or running; fail after ``timeout`` seconds.

    Returns the number of seconds waited. ``rpc`` is an XML-RPC session allowed to read ``queue.job`` (admin).
    """
    start = time.monotonic()
    while True:
        pending = live_jobs(rpc, channel)
        if not pending:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            states = rpc("queue.job", "read", pending[:5], fields=["name", "channel", "state"])
            raise AssertionError(
                f"{len(pending)} jobs of {channel or 'any channel'} still not done after {timeout} s: {states}"
            )
        time.sleep(poll)


def trigger_cron_and_wait(admin, trigger_cron, xmlid, channel, timeout=120):
    """Run a scheduled action now, then wait for the jobs it enqueued on ``channel``; return the cron's answer."""
    answer = trigger_cron(admin, xmlid)
    wait_for_jobs(admin, channel, timeout=timeout)
    return answer
