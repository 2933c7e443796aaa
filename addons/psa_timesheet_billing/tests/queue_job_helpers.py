"""Run the suite's queue jobs inside an Odoo test, as a job worker would (no job runner in tests).

queue_job's own ``trap_jobs`` does not import on this Odoo 18 build; these helpers run the jobs that were
really stored, so a test also checks what was enqueued (channel, identity key).
"""

from odoo.addons.queue_job.job import Job

LIVE_STATES = ("pending", "enqueued", "started")


def queued_jobs(env, channel, states=("pending",)):
    """The stored jobs of ``channel`` in ``states``, oldest first."""
    return env["queue.job"].search([("channel", "=", channel), ("state", "in", list(states))], order="id")


def perform_job(env, job_record):
    """Perform one stored job in the test's transaction and mark it done; return its result.

    A job whose function allows commits (RMM processing, charges) runs in a cursor of its own: the registry
    is put in test mode for it (when the test case has not done so), so that cursor is the test's own
    transaction under a savepoint and commits nothing for real.
    """
    # what the enqueuing side wrote reaches the database first, as its commit would
    env.flush_all()
    registry = env.registry
    entered = not registry.in_test_mode()
    if entered:
        registry.enter_test_mode(env.cr)
    try:
        job = Job.load(env, job_record.uuid)
        result = job.perform()
    finally:
        if entered:
            registry.leave_test_mode()
    job.set_done(result=result)
    job.store()
    # read what the job's own cursor wrote
    env.invalidate_all()
    return result


def perform_queued_jobs(env, channel, max_rounds=10):
    """Perform every pending job of ``channel`` (and the jobs they enqueue); return how many ran."""
    count = 0
    for _round in range(max_rounds):
        jobs = queued_jobs(env, channel)
        if not jobs:
            break
        for job_record in jobs:
            perform_job(env, job_record)
            count += 1
    return count


def run_auto_approval(env, **kwargs):
    """The approval cron, then its chunk jobs, performed here as the job workers would; return the count
    of entries it enqueued."""
    enqueued = env["psa.approval.rule"]._cron_auto_approve(**kwargs)
    perform_queued_jobs(env, "root.psa.approval")
    return enqueued
