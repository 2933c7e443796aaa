#!/usr/bin/env python3
"""Time the automatic approval cron of psa_timesheet_billing on 100,000 timesheet lines.

Target (issue 4): under 30 s on the 2-core development machine.

Runs from ``make bench`` (PSA_ODOO_CONFIG, PSA_DB_NAME; prints a ``BENCH {...}`` row) or by hand against
an existing database where ``psa_timesheet_billing`` is installed::

    PSA_DB_HOST=<socket dir or host> PSA_DB_PORT=<port> PSA_DB_NAME=<db> [PSA_DB_USER=odoo] \\
        python3 bench/bench_auto_approval.py [--lines 100000] [--batch-size 5000]

The first run creates the data (one customer, one project, 50 consultants, tasks with budgets and the
requested number of lines, in bulk SQL copied from one line created through the ORM); every run puts
the bench lines back to "to approve" and then times ``psa.approval.rule._cron_auto_approve`` with the
five kinds of rules active, and its chunk jobs performed one after the other in this process (one job
worker; ``bench_approval_workers.py`` compares 1 and 2). It commits: use a throwaway database.
"""

import argparse
import json
import os
import sys
import time

from _job_workers import perform_jobs_here
from psycopg2 import sql

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_PROJECT = "BENCH auto-approval"
EMPLOYEES = 50
TASKS = 40


def addons_path():
    import odoo.addons

    candidates = list(odoo.addons.__path__)
    candidates.append(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(odoo.__file__))), "addons"))
    candidates += [os.path.join(entry, "odoo", "addons") for entry in sys.path]
    candidates.append(os.path.join(REPO, "addons"))
    paths = []
    for path in map(os.path.realpath, candidates):
        if path not in paths and os.path.isdir(path):
            paths.append(path)
    return ",".join(paths)


def setup_data(env, lines):
    """Create the bench data once; return the project."""
    project = env["project.project"].search([("name", "=", BENCH_PROJECT)], limit=1)
    if project:
        return project
    customer = env["res.partner"].create({"name": "BENCH customer", "is_company": True})
    project = env["project.project"].create(
        {"name": BENCH_PROJECT, "partner_id": customer.id, "allow_timesheets": True}
    )
    tasks = env["project.task"].create(
        [{"name": f"BENCH task {i}", "project_id": project.id, "allocated_hours": 2500.0} for i in range(TASKS)]
    )
    employees = env["hr.employee"].create([{"name": f"BENCH consultant {i}"} for i in range(EMPLOYEES)])
    template = env["account.analytic.line"].create(
        {"name": "BENCH work", "project_id": project.id, "task_id": tasks[0].id, "employee_id": employees[0].id}
    )
    env.flush_all()
    # Copy the template line in bulk: every column except the ones varied below.
    env.cr.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'account_analytic_line'"
        " AND column_name NOT IN ('id', 'date', 'unit_amount', 'employee_id', 'task_id', 'name')"
    )
    columns = [row[0] for row in env.cr.fetchall()]
    column_list = sql.SQL(", ").join(map(sql.Identifier, columns))
    # n -> day n / 400 (8 entries a day for each of the 50 consultants), employee n % 50, task n % 40,
    # 0.5 to 2.5 h (the days of 3 consultants in 5 exceed 8 h), one entry in 50 without description.
    query = sql.SQL(
        """
        INSERT INTO account_analytic_line ({columns}, date, unit_amount, employee_id, task_id, name)
        SELECT {columns},
               CURRENT_DATE - (n / 400)::int,
               0.5 + (n %% 5) * 0.5,
               (%(employees)s::int[])[1 + n %% 50],
               (%(tasks)s::int[])[1 + n %% 40],
               CASE WHEN n %% 50 = 7 THEN '/' ELSE 'BENCH work ' || n END
          FROM account_analytic_line, generate_series(1, %(count)s - 1) AS n
         WHERE account_analytic_line.id = %(template)s
        """
    ).format(columns=column_list)
    env.cr.execute(query, {"employees": employees.ids, "tasks": tasks.ids, "count": lines, "template": template.id})
    env.cr.commit()
    return project


def setup_rules(env, project):
    rules = env["psa.approval.rule"]
    rules.search([]).active = False
    trusted = env["res.groups"].search([("name", "=", "BENCH trusted")], limit=1) or env["res.groups"].create(
        {"name": "BENCH trusted"}
    )
    employees = env["hr.employee"].search([("name", "like", "BENCH consultant")])
    users = employees.user_id
    vals = {"project_id": project.id}
    rules.create(
        [
            {**vals, "name": "BENCH description", "kind": "description"},
            {**vals, "name": "BENCH 8 h/day", "kind": "max_hours_day", "max_hours": 8.0},
            {**vals, "name": "BENCH open 400 days", "kind": "open_period", "open_days": 400},
            {**vals, "name": "BENCH task budget", "kind": "budget"},
        ]
    )
    # the trusted-group rule is only meaningful with users: the bench consultants have none
    if users:
        trusted.users = [(4, uid) for uid in users.ids]
        rules.create([{**vals, "name": "BENCH trusted", "kind": "trusted_group", "group_id": trusted.id}])
    env.cr.commit()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument(
        "--prepaid-fund", action="store_true", help="the customer has an open prepaid fund: approved time is drawn"
    )
    options = parser.parse_args()

    import odoo
    from odoo.modules.registry import Registry

    dbname = os.environ["PSA_DB_NAME"]
    # `make bench` hands over its Odoo configuration; by hand, PSA_DB_HOST/PORT/USER are enough
    args = ["-c", os.environ["PSA_ODOO_CONFIG"]] if os.environ.get("PSA_ODOO_CONFIG") else []
    if os.environ.get("PSA_DB_HOST"):
        args += ["--db_host", os.environ["PSA_DB_HOST"], "--db_port", os.environ.get("PSA_DB_PORT", "5432")]
        args += ["--db_user", os.environ.get("PSA_DB_USER", "odoo")]
    if not os.environ.get("PSA_ODOO_CONFIG"):
        args += ["--addons-path", addons_path()]
    odoo.tools.config.parse_config([*args, "-d", dbname, "--log-level", "warn"])
    registry = Registry(dbname)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        started = time.perf_counter()
        project = setup_data(env, options.lines)
        setup_rules(env, project)
        funds = env["psa.prepaid.fund"].search([("partner_id", "=", project.partner_id.id)])
        env["psa.prepaid.drawdown"].search([("fund_id", "in", funds.ids)]).unlink()
        funds.unlink()
        if options.prepaid_fund:
            env["psa.prepaid.fund"].create(
                {"name": "BENCH fund", "partner_id": project.partner_id.id, "initial_quantity": 30_000.0}
            ).date_start = "2000-01-01"
        cr.execute(
            "UPDATE account_analytic_line SET psa_approval_state = 'to_approve', psa_approval_reason = NULL,"
            " psa_approved_by_id = NULL, psa_approval_date = NULL WHERE project_id = %s",
            (project.id,),
        )
        cr.commit()
        env.invalidate_all()
        cr.execute("SELECT count(*) FROM account_analytic_line WHERE project_id = %s", (project.id,))
        count = cr.fetchone()[0]
        print(f"data ready: {count} timesheet lines ({time.perf_counter() - started:.1f} s)")

        started = time.perf_counter()
        enqueued = env["psa.approval.rule"]._cron_auto_approve(batch_size=options.batch_size)
        cr.commit()
        # the cron enqueues the chunks (root.psa.approval); one worker's work, in this process
        jobs = perform_jobs_here(registry, "root.psa.approval")
        elapsed = time.perf_counter() - started
        env.invalidate_all()
        cr.execute(
            "SELECT count(*) FROM account_analytic_line WHERE project_id = %s AND psa_approval_state = 'approved'",
            (project.id,),
        )
        approved = cr.fetchone()[0]
        print(f"{enqueued} lines enqueued in {jobs} jobs, performed here")
        cr.execute(
            "SELECT psa_approval_state, psa_approval_reason IS NOT NULL, count(*) FROM account_analytic_line"
            " WHERE project_id = %s GROUP BY 1, 2 ORDER BY 1, 2",
            (project.id,),
        )
        for state, has_reason, lines in cr.fetchall():
            print(f"  {state:<11} {'with reason' if has_reason else 'no reason':<12} {lines}")
        verdict = "OK" if elapsed < 30 else "TOO SLOW"
        print(f"auto-approval of {count} lines: {elapsed:.1f} s, {approved} approved (target < 30 s: {verdict})")
        # one row of the `make bench` table (Odoo has no automatic approval to compare with)
        figure = f"auto-approval of {count} timesheet lines" + (" (prepaid fund)" if options.prepaid_fund else "")
        row = {"figure": figure, "ours": round(elapsed, 1), "odoo": None, "unit": "s", "target": "< 30 s"}
        print("BENCH " + json.dumps({**row, "met": elapsed < 30}), flush=True)
        # measured: the table says whether the target is met; a non-zero exit means the script failed
        return 0


if __name__ == "__main__":
    sys.exit(main())
