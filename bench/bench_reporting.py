#!/usr/bin/env python3
"""Bench: each reporting model's grouped read (what its pivot asks) against a hand-written SQL aggregate.

Target (issue 15): at 100,000 time entries and 10,000 invoices, ``read_group`` with the pivot's default
measures and group-bys costs at most 2x a hand-written SQL aggregate of the same figures on the same data.
One ``BENCH`` row per reporting model: ours = the grouped read (ms), the baseline column = the hand SQL (ms);
met = within 2x and the two give the same figures.

Runs from ``make bench`` (PSA_ODOO_CONFIG, PSA_DB_NAME) or stand-alone on a developer cluster::

    python3 bench/bench_reporting.py --dev-pg /work/devpg --entries 2000 --invoices 200

The first run builds the data (100 customers with one confirmed order and project each, 50 consultants with
an hourly cost, the time entries, the invoices and credit notes, one auto-pay attempt per invoice, RMM
charges, billing-run lines and prepaid draw-downs): a few records through the ORM, then bulk SQL copies of
them. It commits: use a throwaway database. The grouped reads run as a user with the reporting groups (so
the multi-company record rules apply) and with the context the web client sends (language, time zone,
companies), each timed as the median of 15 rounds after one warm-up, the grouped read, the hand SQL and the
bare aggregate called in turn in each round, the cache emptied before each grouped read.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

from _odoo import prepare_dev_database, report
from psycopg2 import sql

TARGET_RATIO = 2.0
REPEAT = 15
TAG = "BENCH reporting"
CUSTOMERS = 100
EMPLOYEES = 50


def say(message):
    print(message, flush=True)


def clone(cr, table, template_id, count, overrides, params=None):
    """Insert ``count`` copies of row ``template_id`` of ``table``: every column copied but ``id`` and the
    ``overrides`` (column -> SQL expression of ``n``, 1..count; ``%(name)s`` placeholders from ``params``).
    Return the new ids in the order of ``n``."""
    cr.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND column_name <> 'id'"
        " ORDER BY ordinal_position",
        (table,),
    )
    columns = [name for (name,) in cr.fetchall() if name not in overrides]
    query = sql.SQL(
        "INSERT INTO {table} ({columns}) SELECT {copied} FROM {table} t, generate_series(1, %(count)s) AS n"
        " WHERE t.id = %(template)s ORDER BY n RETURNING id"
    ).format(
        table=sql.Identifier(table),
        columns=sql.SQL(", ").join(map(sql.Identifier, [*columns, *overrides])),
        copied=sql.SQL(", ").join(
            [sql.SQL("t.{}").format(sql.Identifier(name)) for name in columns]
            + [sql.SQL(expression) for expression in overrides.values()]
        ),
    )
    cr.execute(query, {**(params or {}), "count": count, "template": template_id})
    return [row[0] for row in cr.fetchall()]


# ------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------
def build_data(env, entries, invoices):
    """Create the bench data once (skipped when the bench projects exist)."""
    from odoo import Command, fields

    cr = env.cr
    if env["project.project"].search_count([("name", "=like", f"{TAG} %")]):
        say("bench data found: reused")
        return
    started = time.perf_counter()
    company = env.company
    uom_hour = env.ref("uom.product_uom_hour")
    product_time = env["product.product"].create(
        {
            "name": f"{TAG} consulting",
            "type": "service",
            "invoice_policy": "delivery",
            "service_type": "timesheet",
            "list_price": 100.0,
            "uom_id": uom_hour.id,
            "uom_po_id": uom_hour.id,
        }
    )
    product_fee = env["product.product"].create(
        {"name": f"{TAG} onboarding", "type": "service", "invoice_policy": "order", "list_price": 1000.0}
    )
    customers = env["res.partner"].create(
        [{"name": f"{TAG} customer {i}", "is_company": True} for i in range(CUSTOMERS)]
    )
    employees = env["hr.employee"].create(
        [{"name": f"{TAG} consultant {i}", "hourly_cost": 30.0 + (i % 5) * 10} for i in range(EMPLOYEES)]
    )
    orders = env["sale.order"].create(
        [
            {
                "partner_id": customer.id,
                "order_line": [
                    Command.create({"product_id": product_time.id, "product_uom_qty": 1000, "price_unit": 100.0 + i}),
                    Command.create({"product_id": product_fee.id, "product_uom_qty": 1, "price_unit": 1000.0}),
                ],
            }
            for i, customer in enumerate(customers)
        ]
    )
    orders.action_confirm()
    time_lines = orders.order_line.filtered(lambda line: line.product_id == product_time)
    projects = env["project.project"].create(
        [
            {
                "name": f"{TAG} {line.order_id.name}",
                "partner_id": line.order_id.partner_id.id,
                "allow_timesheets": True,
                "allow_billable": True,
                "sale_line_id": line.id,
                "user_id": env.uid,
            }
            for line in time_lines
        ]
    )
    env.flush_all()

    # time entries: entry n on project n % 100 and consultant n % 50, 0.5 to 4 h, over the last year;
    # 1 in 20 rejected, 5 in 20 waiting, the rest approved
    template = env["account.analytic.line"].create(
        {
            "name": f"{TAG} work",
            "project_id": projects[0].id,
            "so_line": time_lines[0].id,
            "employee_id": employees[0].id,
            "unit_amount": 1.0,
        }
    )
    env.flush_all()
    arrays = {
        "projects": projects.ids,
        "lines": time_lines.ids,
        "customers": customers.ids,
        "employees": employees.ids,
        "costs": employees.mapped("hourly_cost"),
    }
    clone(
        cr,
        "account_analytic_line",
        template.id,
        entries - 1,
        {
            "project_id": "(%(projects)s::int[])[1 + mod(n, 100)]",
            "so_line": "(%(lines)s::int[])[1 + mod(n, 100)]",
            "partner_id": "(%(customers)s::int[])[1 + mod(n, 100)]",
            "employee_id": "(%(employees)s::int[])[1 + mod(n, 50)]",
            "date": "CURRENT_DATE - mod(n, 365)",
            "unit_amount": "0.5 + mod(n, 8) * 0.5",
            "amount": "-(0.5 + mod(n, 8) * 0.5) * (%(costs)s::float8[])[1 + mod(n, 50)]",
            "psa_approval_state": "CASE WHEN mod(n, 20) = 0 THEN 'rejected' WHEN mod(n, 20) < 6 THEN 'to_approve'"
            " ELSE 'approved' END",
        },
        arrays,
    )
    cr.execute("UPDATE account_analytic_line SET psa_approval_state = 'approved' WHERE id = %s", (template.id,))
    template.invalidate_recordset(["psa_approval_state"])
    # what the approval job keeps up to date: the delivered quantity of the order lines (approved time)
    cr.execute(
        """
        UPDATE sale_order_line sol SET qty_delivered = hours.total
          FROM (SELECT so_line, SUM(unit_amount) AS total FROM account_analytic_line
                 WHERE so_line = ANY(%s) AND psa_approval_state IN ('approved', 'invoiced') GROUP BY so_line) hours
         WHERE sol.id = hours.so_line
        """,
        (time_lines.ids,),
    )
    say(f"  {entries} time entries ({time.perf_counter() - started:.1f} s)")

    # invoices: one posted through the ORM, then copies (1 in 10 a credit note), each billing an order's time
    invoice = env["account.move"].create(
        {
            "move_type": "out_invoice",
            "partner_id": customers[0].id,
            "invoice_date": fields.Date.today(),
            "invoice_payment_term_id": False,
            "invoice_line_ids": [
                Command.create(
                    {
                        "product_id": product_time.id,
                        "quantity": 1.0,
                        "price_unit": 100.0,
                        "tax_ids": [Command.clear()],
                        "sale_line_ids": [Command.set(time_lines[0].ids)],
                    }
                )
            ],
        }
    )
    invoice.action_post()
    env.flush_all()
    amount = "100.0 * (1 + mod(n, 20))"
    sign = "(CASE WHEN mod(n, 10) = 0 THEN -1 ELSE 1 END)"
    move_ids = clone(
        cr,
        "account_move",
        invoice.id,
        invoices - 1,
        {
            "name": "'BREP/' || n",
            "payment_reference": "'BREP/' || n",
            "sequence_prefix": "'BREP/'",
            "sequence_number": "n",
            "move_type": f"CASE WHEN {sign} = -1 THEN 'out_refund' ELSE 'out_invoice' END",
            "partner_id": "(%(customers)s::int[])[1 + mod(n, 100)]",
            "commercial_partner_id": "(%(customers)s::int[])[1 + mod(n, 100)]",
            "invoice_date": "CURRENT_DATE - mod(n, 365)",
            "date": "CURRENT_DATE - mod(n, 365)",
            "invoice_date_due": "CURRENT_DATE - mod(n, 365) + 30",
            "amount_untaxed": amount,
            "amount_total": amount,
            "amount_residual": amount,
            "amount_untaxed_signed": f"{amount} * {sign}",
            "amount_total_signed": f"{amount} * {sign}",
            "amount_total_in_currency_signed": f"{amount} * {sign}",
            "amount_residual_signed": f"{amount} * {sign}",
        },
        arrays,
    )
    cr.execute(
        "CREATE TEMP TABLE bench_moves AS SELECT n::int AS n, id FROM unnest(%s::int[]) WITH ORDINALITY AS m(id, n)",
        (move_ids,),
    )
    cr.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'account_move_line'"
        " AND column_name NOT IN ('id', 'move_id', 'move_name', 'partner_id', 'date', 'invoice_date', 'balance',"
        " 'debit', 'credit', 'amount_currency', 'amount_residual', 'amount_residual_currency', 'price_unit',"
        " 'price_subtotal', 'price_total') ORDER BY ordinal_position"
    )
    columns = [name for (name,) in cr.fetchall()]
    line_amount = sql.SQL("100.0 * (1 + mod(m.n, 20)) * (CASE WHEN mod(m.n, 10) = 0 THEN -1 ELSE 1 END)")
    # the product line is credited (income), the receivable line debited; a credit note the other way round
    balance = sql.SQL("(CASE WHEN t.display_type = 'product' THEN -1 ELSE 1 END) * {}").format(line_amount)
    cr.execute(
        sql.SQL(
            """
            INSERT INTO account_move_line ({columns}, move_id, move_name, partner_id, date, invoice_date, balance,
                                           debit, credit, amount_currency, amount_residual,
                                           amount_residual_currency, price_unit, price_subtotal, price_total)
            SELECT {copied}, m.id, 'BREP/' || m.n, (%(customers)s::int[])[1 + mod(m.n, 100)],
                   CURRENT_DATE - mod(m.n, 365), CURRENT_DATE - mod(m.n, 365), {balance},
                   GREATEST({balance}, 0), GREATEST(-{balance}, 0), {balance},
                   CASE WHEN t.display_type = 'payment_term' THEN {balance} ELSE 0 END,
                   CASE WHEN t.display_type = 'payment_term' THEN {balance} ELSE 0 END,
                   100.0 * (1 + mod(m.n, 20)), 100.0 * (1 + mod(m.n, 20)), 100.0 * (1 + mod(m.n, 20))
              FROM account_move_line t, bench_moves m
             WHERE t.move_id = %(template)s
          ORDER BY m.n, t.id
         RETURNING id, move_id, display_type
            """
        ).format(
            columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
            copied=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(name)) for name in columns),
            balance=balance,
        ),
        {"customers": customers.ids, "template": invoice.id},
    )
    product_lines = {move_id: line_id for line_id, move_id, display_type in cr.fetchall() if display_type == "product"}
    cr.execute(
        """
        INSERT INTO sale_order_line_invoice_rel (invoice_line_id, order_line_id)
        SELECT line_id, (%(lines)s::int[])[1 + mod(m.n, 100)]
          FROM unnest(%(moves)s::int[], %(product_lines)s::int[]) AS l(move_id, line_id)
          JOIN bench_moves m ON m.id = l.move_id
        """,
        {"lines": time_lines.ids, "moves": list(product_lines), "product_lines": list(product_lines.values())},
    )
    say(f"  {invoices} invoices and credit notes ({time.perf_counter() - started:.1f} s)")

    # auto-pay: one attempt per invoice (a revoked mandate: no provider needs to be configured)
    token = env["payment.token"].create(
        {
            "provider_id": env.ref("payment.payment_provider_stripe").id,
            "payment_method_id": env.ref("payment.payment_method_card").id,
            "partner_id": customers[0].id,
            "payment_details": "4242",
            "provider_ref": f"{TAG} token",
        }
    )
    mandate = env["psa.payment.mandate"].create(
        {"partner_id": customers[0].id, "token_id": token.id, "state": "revoked"}
    )
    attempt = env["psa.payment.attempt"].create(
        {
            "move_id": invoice.id,
            "mandate_id": mandate.id,
            "number": 1,
            "idempotency_key": f"{TAG} attempt",
            "amount": 100.0,
            "currency_id": company.currency_id.id,
            "state": "done",
        }
    )
    env.flush_all()
    clone(
        cr,
        "psa_payment_attempt",
        attempt.id,
        len(move_ids),
        {
            "move_id": "(%(moves)s::int[])[n]",
            "partner_id": "(%(customers)s::int[])[1 + mod(n, 100)]",
            "idempotency_key": "'brep-' || n",
            "number": "1 + mod(n, 3)",
            "amount": "100.0 * (1 + mod(n, 20))",
            "attempt_date": "CURRENT_DATE - mod(n, 365)",
            "state": "CASE WHEN mod(n, 10) < 7 THEN 'done' WHEN mod(n, 10) < 9 THEN 'failed' ELSE 'pending' END",
        },
        {**arrays, "moves": move_ids},
    )

    # RMM: one charge per auto-resolved event
    integration = env["psa.rmm.integration"].create(
        {"name": TAG, "kind": "native", "secret": "bench-secret", "charge_product_id": product_fee.id}
    )
    event = env["psa.rmm.event"].create(
        {
            "integration_id": integration.id,
            "company_id": company.id,
            "rmm_event_id": f"{TAG} event",
            "event_type": "alert.auto_resolved",
            "occurred_at": fields.Datetime.now(),
            "partner_id": customers[0].id,
            "state": "done",
        }
    )
    charge = env["psa.rmm.charge"].create(
        {
            "event_id": event.id,
            "integration_id": integration.id,
            "company_id": company.id,
            "partner_id": customers[0].id,
            "date": fields.Date.today(),
            "product_id": product_fee.id,
            "price_unit": 15.0,
            "explanation": f"{TAG} charge",
        }
    )
    env.flush_all()
    event_ids = clone(cr, "psa_rmm_event", event.id, invoices, {"rmm_event_id": "'brep-' || n"})
    clone(
        cr,
        "psa_rmm_charge",
        charge.id,
        invoices,
        {
            "event_id": "(%(events)s::int[])[n]",
            "partner_id": "(%(customers)s::int[])[1 + mod(n, 100)]",
            "date": "CURRENT_DATE - mod(n, 365)",
            "price_unit": "15.0 + mod(n, 3) * 5",
            "amount": "15.0 + mod(n, 3) * 5",
            "state": "CASE WHEN mod(n, 4) = 0 THEN 'to_invoice' ELSE 'invoiced' END",
        },
        {**arrays, "events": event_ids},
    )

    # billing-run lines: what monthly runs billed, by source
    run = env["psa.billing.run"].create({"name": TAG, "period_end": fields.Date.today()})
    run_line = env["psa.billing.run.line"].create(
        {
            "run_id": run.id,
            "company_id": company.id,
            "partner_id": customers[0].id,
            "state": "invoiced",
            "source_type": "time",
            "amount": 100.0,
            "currency_id": company.currency_id.id,
        }
    )
    env.flush_all()
    clone(
        cr,
        "psa_billing_run_line",
        run_line.id,
        invoices,
        {
            "partner_id": "(%(customers)s::int[])[1 + mod(n, 100)]",
            "source_type": "(ARRAY['time', 'milestone', 'service', 'recurring', 'expense'])[1 + mod(n, 5)]",
            "state": "CASE WHEN mod(n, 10) < 8 THEN 'invoiced' WHEN mod(n, 10) = 8 THEN 'skipped' ELSE 'pending' END",
            "amount": "50.0 * (1 + mod(n, 40))",
        },
        arrays,
    )

    # prepaid: 10 funds, one draw-down per approved entry of their customers' projects, up to `invoices`
    funds = env["psa.prepaid.fund"].create(
        [
            {"name": f"{TAG} fund {i}", "partner_id": customer.id, "unit": "hours", "initial_quantity": 500.0}
            for i, customer in enumerate(customers[:10])
        ]
    )
    cr.execute(
        "SELECT id, project_id FROM account_analytic_line"
        " WHERE project_id = ANY(%s) AND psa_approval_state = 'approved' ORDER BY id LIMIT %s",
        (projects[:10].ids, invoices + 1),
    )
    drawn = cr.fetchall()
    fund_of_project = dict(zip(projects[:10].ids, funds, strict=True))
    first_id, first_project = drawn[0]
    drawdown = env["psa.prepaid.drawdown"].create(
        {
            "fund_id": fund_of_project[first_project].id,
            "company_id": company.id,
            "partner_id": fund_of_project[first_project].partner_id.id,
            "timesheet_id": first_id,
            "date": fields.Date.today(),
            "quantity": 1.0,
        }
    )
    env.flush_all()
    rest = drawn[1:]
    clone(
        cr,
        "psa_prepaid_drawdown",
        drawdown.id,
        len(rest),
        {
            "timesheet_id": "(%(timesheets)s::int[])[n]",
            "fund_id": "(%(funds)s::int[])[n]",
            "partner_id": "(%(partners)s::int[])[n]",
            "date": "CURRENT_DATE - mod(n, 365)",
            "quantity": "0.5 + mod(n, 8) * 0.5",
            "overage_quantity": "CASE WHEN mod(n, 10) = 0 THEN 0.5 ELSE 0 END",
        },
        {
            "timesheets": [row[0] for row in rest],
            "funds": [fund_of_project[row[1]].id for row in rest],
            "partners": [fund_of_project[row[1]].partner_id.id for row in rest],
        },
    )
    cr.execute("ANALYZE")
    cr.commit()
    env.invalidate_all()
    say(f"bench data built in {time.perf_counter() - started:.1f} s")


# ------------------------------------------------------------------------------------------------
# The reports: what each pivot asks, and the same figures in hand-written SQL
# ------------------------------------------------------------------------------------------------
PROFITABILITY_SQL = """
WITH line_project AS (
    SELECT sol.id AS sale_line_id, sol.company_id, sol.order_id,
           COALESCE(sol.project_id, task.project_id,
                    (SELECT MIN(p.id) FROM project_project p WHERE p.sale_line_id = sol.id),
                    (SELECT MIN(t.project_id) FROM project_task t WHERE t.sale_line_id = sol.id),
                    (SELECT MIN(m.project_id) FROM project_sale_line_employee_map m WHERE m.sale_line_id = sol.id),
                    so.psa_engagement_project_id, so.project_id) AS own_project_id,
           sol.price_subtotal / COALESCE(NULLIF(so.currency_rate, 0), 1.0) AS committed,
           sol.qty_delivered::numeric * sol.price_reduce_taxexcl / COALESCE(NULLIF(so.currency_rate, 0), 1.0)
               AS delivered
      FROM sale_order_line sol
      JOIN sale_order so ON so.id = sol.order_id AND so.state = 'sale'
 LEFT JOIN project_task task ON task.id = sol.task_id
     WHERE sol.display_type IS NULL AND sol.is_downpayment IS NOT TRUE
), attributed AS (
    SELECT sale_line_id, company_id, committed, delivered,
           COALESCE(own_project_id, MIN(own_project_id) OVER (PARTITION BY order_id)) AS project_id
      FROM line_project
), invoiced AS (
    SELECT lp.project_id, aml.company_id, SUM(-aml.balance) AS invoiced
      FROM (SELECT invoice_line_id, MIN(order_line_id) AS sale_line_id FROM sale_order_line_invoice_rel
             GROUP BY invoice_line_id) link
      JOIN attributed lp ON lp.sale_line_id = link.sale_line_id
      JOIN account_move_line aml ON aml.id = link.invoice_line_id
      JOIN account_move move ON move.id = aml.move_id
     WHERE move.state = 'posted' AND move.move_type IN ('out_invoice', 'out_refund')
  GROUP BY 1, 2
), cost AS (
    SELECT project_id, company_id, SUM(-amount) AS cost
      FROM account_analytic_line
     WHERE project_id IS NOT NULL AND psa_approval_state IS DISTINCT FROM 'rejected'
  GROUP BY 1, 2
), sold AS (
    SELECT project_id, company_id, SUM(committed) AS committed, SUM(delivered) AS delivered
      FROM attributed WHERE project_id IS NOT NULL GROUP BY 1, 2
), per_project AS (
    SELECT COALESCE(s.project_id, i.project_id, c.project_id) AS project_id,
           COALESCE(s.company_id, i.company_id, c.company_id) AS company_id,
           COALESCE(s.committed, 0) AS committed, COALESCE(s.delivered, 0) AS delivered,
           COALESCE(i.invoiced, 0) AS invoiced, COALESCE(c.cost, 0) AS cost
      FROM sold s
 FULL JOIN invoiced i ON i.project_id = s.project_id AND i.company_id = s.company_id
 FULL JOIN cost c ON c.project_id = COALESCE(s.project_id, i.project_id)
                 AND c.company_id = COALESCE(s.company_id, i.company_id)
)
SELECT partner.commercial_partner_id, pp.project_id, SUM(pp.committed), SUM(pp.delivered), SUM(pp.invoiced),
       SUM(pp.cost), SUM(pp.delivered) - SUM(pp.cost)
  FROM per_project pp
  JOIN project_project project ON project.id = pp.project_id
  LEFT JOIN res_partner partner ON partner.id = project.partner_id
 WHERE pp.company_id = ANY(%(companies)s)
 GROUP BY 1, 2
"""


def reports(env):
    """(figure, model, domain, measures, group-bys, hand SQL) of each report, as its pivot opens."""
    return [
        (
            "engagement profitability (customer x project)",
            "psa.engagement.profitability",
            [],
            ["committed_amount:sum", "delivered_amount:sum", "invoiced_amount:sum", "cost_amount:sum", "margin:sum"],
            ["partner_id", "project_id"],
            PROFITABILITY_SQL,
        ),
        (
            "billing-run lines invoiced (customer x source)",
            "psa.billing.run.line",
            [("state", "=", "invoiced")],
            ["amount:sum"],
            ["partner_id", "source_type"],
            "SELECT partner_id, source_type, SUM(amount) FROM psa_billing_run_line"
            " WHERE state = 'invoiced' AND company_id = ANY(%(companies)s) GROUP BY 1, 2",
        ),
        (
            "auto-pay attempts (month x status)",
            "psa.payment.attempt",
            [],
            ["amount:sum", "__count"],
            ["attempt_date:month", "state"],
            "SELECT date_trunc('month', attempt_date), state, SUM(amount), COUNT(*) FROM psa_payment_attempt"
            " WHERE company_id = ANY(%(companies)s) GROUP BY 1, 2",
        ),
        (
            "RMM charges (customer x month)",
            "psa.rmm.charge",
            [],
            ["amount:sum"],
            ["partner_id", "date:month"],
            "SELECT partner_id, date_trunc('month', date), SUM(amount) FROM psa_rmm_charge"
            " WHERE company_id = ANY(%(companies)s) GROUP BY 1, 2",
        ),
        (
            "prepaid draw-downs (fund x month)",
            "psa.prepaid.drawdown",
            [],
            ["quantity:sum", "overage_quantity:sum"],
            ["fund_id", "date:month"],
            "SELECT fund_id, date_trunc('month', date), SUM(quantity), SUM(overage_quantity) FROM psa_prepaid_drawdown"
            " WHERE company_id = ANY(%(companies)s) GROUP BY 1, 2",
        ),
        (
            "time awaiting approval (project x month)",
            "account.analytic.line",
            [("project_id", "!=", False), ("psa_approval_state", "=", "to_approve")],
            ["unit_amount:sum"],
            ["project_id", "date:month"],
            "SELECT project_id, date_trunc('month', date), SUM(unit_amount) FROM account_analytic_line"
            " WHERE project_id IS NOT NULL AND psa_approval_state = 'to_approve' AND company_id = ANY(%(companies)s)"
            " GROUP BY 1, 2",
        ),
    ]


def reporting_user(env):
    user = env["res.users"].search([("login", "=", "bench_reporting")], limit=1)
    if not user:
        groups = [
            "account.group_account_invoice",
            "project.group_project_manager",
            "hr_timesheet.group_timesheet_manager",
            "helpdesk_mgmt.group_helpdesk_user",
        ]
        user = env["res.users"].create(
            {
                "name": TAG,
                "login": "bench_reporting",
                "groups_id": [(4, env.ref(xmlid).id) for xmlid in groups],
            }
        )
        env.cr.commit()
    return user


def median_ms(functions):
    """``{name: median milliseconds}`` of ``functions`` (``{name: function}``) over ``REPEAT`` rounds, each round
    calling every function once, in turn, after one warm-up call of each. Interleaved so that the machine's
    speed, which drifts on a shared 2-core machine from one millisecond-long call to the next batch of them,
    weighs on each side alike (five calls of one, then five of the other, once measured the same hand SQL at
    3.0 ms and 5.9 ms in two runs)."""
    for function in functions.values():
        function()  # warm-up
    times = {name: [] for name in functions}
    for _ in range(REPEAT):
        for name, function in functions.items():
            started = time.perf_counter()
            function()
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def measure(env):
    user = reporting_user(env)
    companies = user.company_ids.ids
    results = []
    for figure, model_name, domain, measures, groupby, hand_sql in reports(env):
        # the context the web client sends with every call: the user's language and time zone, the companies
        model = (
            env[model_name]
            .with_user(user)
            .with_context(allowed_company_ids=companies, lang=user.lang or "en_US", tz=user.tz or "UTC")
        )
        rows = model.search_count(domain)
        public_measures = [spec.split(":")[0] for spec in measures if spec != "__count"]

        def grouped_read(model=model, domain=domain, groupby=groupby, public_measures=public_measures):
            model.env.invalidate_all()
            return model.read_group(domain, public_measures, groupby, lazy=False)

        def hand(hand_sql=hand_sql):
            env.cr.execute(hand_sql, {"companies": companies})
            return env.cr.fetchall()

        def aggregate_only(model=model, domain=domain, groupby=groupby, measures=measures):
            model.env.invalidate_all()
            return model._read_group(domain, groupby, measures)

        # the aggregate alone (aggregate_only) shows where the time goes: the same aggregate without the
        # group labels (display names) and the formatting that read_group adds
        medians = median_ms({"ours": grouped_read, "hand": hand, "internal": aggregate_only})
        ours, baseline, internal = medians["ours"], medians["hand"], medians["internal"]
        # the same figures: the sums of each measure over all groups agree to the cent
        orm_totals = [round(sum(group[name] or 0.0 for group in grouped_read()), 2) for name in public_measures]
        sql_rows = hand()
        sql_totals = [
            round(sum(float(row[len(groupby) + index] or 0.0) for row in sql_rows), 2)
            for index in range(len(public_measures))
        ]
        agree = orm_totals == sql_totals

        say(
            f"  {figure}: {rows} rows, {len(grouped_read())} groups ({len(sql_rows)} by the hand SQL);"
            f" read_group {ours:.1f} ms (of which the aggregate, _read_group: {internal:.1f} ms),"
            f" hand SQL {baseline:.1f} ms; totals {orm_totals} vs {sql_totals}{'' if agree else ' DIFFER'}"
        )
        met = agree and ours <= TARGET_RATIO * baseline
        results.append((figure, rows, ours, baseline, met))
        report(
            f"reporting read_group: {figure}, {rows} rows (baseline: hand SQL)",
            round(ours, 1),
            odoo=round(baseline, 1),
            unit="ms",
            target=f"<= {TARGET_RATIO:g}x hand SQL",
            met=met,
        )
        # the aggregate alone (our SQL, the view, the record rules), without Odoo's per-group formatting
        report(
            f"reporting aggregate only (_read_group): {figure}",
            round(internal, 1),
            odoo=round(baseline, 1),
            unit="ms",
            target=f"<= {TARGET_RATIO:g}x hand SQL",
            met=agree and internal <= TARGET_RATIO * baseline,
        )
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev-pg", help="dev cluster directory (socket/, port); stand-alone mode")
    parser.add_argument("--entries", type=int, default=100_000, help="time entries")
    parser.add_argument("--invoices", type=int, default=10_000, help="invoices (and as many charges, run lines)")
    parser.add_argument("--keep", action="store_true", help="stand-alone: keep the database and its configuration")
    options = parser.parse_args()

    work = tempfile.mkdtemp(prefix="psa-bench-reporting-")
    drop = None
    dbname = None
    try:
        if os.environ.get("PSA_ODOO_CONFIG") and not options.dev_pg:
            config, dbname = os.environ["PSA_ODOO_CONFIG"], os.environ["PSA_DB_NAME"]
        elif options.dev_pg:
            config, dbname, drop = prepare_dev_database(
                options.dev_pg, work, "psa_payments,psa_rmm", "bench_reporting", demo=False
            )
        else:
            sys.exit("give --dev-pg <dir> or run under scripts/psa_dev.py bench")

        import odoo
        from odoo.modules.registry import Registry
        from odoo.tools import config as odoo_config

        odoo_config.parse_config(["-c", config, "--log-level=warn"])
        registry = Registry(dbname)
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            say(f"building {options.entries} time entries and {options.invoices} invoices ...")
            build_data(env, options.entries, options.invoices)
            measure(env)
    finally:
        if options.keep:
            say(f"kept: PSA_ODOO_CONFIG={work}/odoo.conf PSA_DB_NAME={dbname}")
        else:
            if drop:
                drop()
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
