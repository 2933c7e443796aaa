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
    """Perform one stored job in the test's transaction and mark it done; return its result."""
    job = Job.load(env, job_record.uuid)
    result = job.perform()
    job.set_done(result=result)
    job.store()
    # a job may work in a cursor of its own (RMM processing): read what it wrote
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
