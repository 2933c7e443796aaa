import json
from datetime import date, datetime, timedelta

from odoo import Command, fields
from odoo.tools import file_open

from odoo.addons.psa_timesheet_billing.tests.billing_run_common import BillingRunCommon

DASHBOARD_FILE = "psa_dashboard/data/files/psa_dashboard.json"


def load_dashboard():
    with file_open(DASHBOARD_FILE) as handle:
        return json.load(handle)


class PsaDashboardCommon(BillingRunCommon):
    """A small known data set behind every figure of the PSA dashboard, for two customers A and B.

    Dates count back from the database's today (the reporting views age things against CURRENT_DATE).
    ``expected_rows`` says, per model the dashboard reads, what each record must show: the figures are
    then the grouped sums of these rows, worked out by hand (3 h at 95.50 = 286.50, and so on).
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.cr.execute("SELECT CURRENT_DATE")
        cls.today = cls.env.cr.fetchone()[0]
        # only this data set's rules: the database may hold other (demo) approval rules
        cls.env["psa.approval.rule"].search([]).active = False
        cls.customers = cls.customer_a | cls.customer_b
        cls._build_work_in_progress()
        cls._build_invoices_and_billing()
        cls._build_payment_attempts()
        cls._build_prepaid_funds()
        cls._build_service_desk()
        cls.env.flush_all()

    @classmethod
    def day(cls, offset):
        return cls.today + timedelta(days=offset)

    # ------------------------------------------------------------------ work in progress
    @classmethod
    def _build_work_in_progress(cls):
        cust_a, cust_b = cls.customer_a, cls.customer_b
        cls.time_order = cls._create_order(cust_a, [(cls.product_time, 40, 95.5)])
        cls.time_line = cls.time_order.order_line
        project_a = cls._create_project(cls.time_line)
        cls._log_time(cls.time_line, project_a, [(cls.day(-10), 3.0), (cls.day(-45), 2.25)])
        cls.waiting = cls._log_time(cls.time_line, project_a, [(cls.day(-5), 1.5)], approve=False)
        project_b = cls.env["project.project"].create(
            {"name": "Dashboard B (not billable)", "partner_id": cust_b.id, "allow_timesheets": True}
        )
        cls.env["account.analytic.line"].create(
            {
                "name": "Unbilled audit",
                "project_id": project_b.id,
                "employee_id": cls.employee.id,
                "date": cls.day(-100),
                "unit_amount": 4.0,
            }
        )
        product_milestone = cls.env["product.product"].create(
            {
                "name": "Dashboard rollout (milestones)",
                "type": "service",
                "service_type": "milestones",
                "invoice_policy": "delivery",
                "list_price": 2000.0,
            }
        )
        milestone_order = cls._create_order(cust_b, [(product_milestone, 1, 2000.0)])
        milestone_line = milestone_order.order_line
        milestone_project = cls.env["project.project"].create(
            {
                "name": "Dashboard B rollout",
                "partner_id": cust_b.id,
                "allow_billable": True,
                "allow_milestones": True,
                "sale_line_id": milestone_line.id,
            }
        )
        milestones = cls.env["project.milestone"].create(
            [
                {
                    "name": name,
                    "project_id": milestone_project.id,
                    "sale_line_id": milestone_line.id,
                    "quantity_percentage": 0.5,
                }
                for name in ("Design", "Rollout")
            ]
        )
        milestones[0].is_reached = True
        wip = "psa.dashboard.wip"
        cls.expected_rows = {
            wip: [
                cls._row(cust_a, kind="time_approved", date=cls.day(-10), age_bucket="0_30", hours=3.0, amount=286.50),
                cls._row(
                    cust_a, kind="time_approved", date=cls.day(-45), age_bucket="31_60", hours=2.25, amount=214.88
                ),
                cls._row(cust_a, kind="time_to_approve", date=cls.day(-5), age_bucket="0_30", hours=1.5, amount=143.25),
                cls._row(
                    cust_b, kind="time_to_approve", date=cls.day(-100), age_bucket="91_plus", hours=4.0, amount=0.0
                ),
                cls._row(cust_b, kind="milestone", date=cls.today, age_bucket="0_30", hours=0.0, amount=1000.0),
            ]
        }

    @staticmethod
    def _row(partner, **values):
        return {"partner_id": partner.id, **values}

    # ------------------------------------------------------------------ invoices, billing runs
    @classmethod
    def _invoice(cls, partner, amount, invoice_offset, due_offset):
        invoice = cls.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": partner.id,
                "invoice_date": cls.day(invoice_offset),
                "invoice_payment_term_id": False,
                "invoice_date_due": cls.day(due_offset),
                "invoice_line_ids": [
                    Command.create(
                        {
                            "product_id": cls.product_fixed.id,
                            "quantity": 1,
                            "price_unit": amount,
                            "tax_ids": [Command.clear()],
                        }
                    )
                ],
            }
        )
        invoice.action_post()
        return invoice

    @classmethod
    def _build_invoices_and_billing(cls):
        cust_a, cust_b = cls.customer_a, cls.customer_b
        cls.inv1 = cls._invoice(cust_a, 1000.10, -40, -10)
        cls.inv2 = cls._invoice(cust_a, 500.0, -100, -70)
        cls.inv3 = cls._invoice(cust_b, 250.25, -10, 20)
        cls.inv4 = cls._invoice(cust_b, 400.0, -20, -5)
        cls.inv5 = cls._invoice(cust_b, 300.0, -400, -370)
        cls.env["account.payment.register"].with_context(active_model="account.move", active_ids=cls.inv4.ids).create(
            {"payment_date": cls.day(-3)}
        )._create_payments()
        device_contract = cls.env["contract.contract"].create(
            {
                "name": "Dashboard managed devices",
                "partner_id": cust_b.id,
                "contract_line_ids": [
                    Command.create(
                        {
                            "product_id": cls.product_fixed.id,
                            "name": "Managed devices",
                            "quantity": 1,
                            "price_unit": 300.0,
                            "date_start": cls.day(-430),
                            "qty_type": "variable",
                            "qty_formula_id": cls.env.ref("psa_rmm.qty_formula_managed_devices").id,
                        }
                    )
                ],
            }
        )
        run = cls.env["psa.billing.run"].create({"period_end": cls.day(-41), "invoice_date": cls.day(-40)})
        lines = [
            (cust_a, "time", cls.inv1, 300.0, {}),
            (cust_a, "milestone", cls.inv1, 700.10, {}),
            (cust_a, "recurring", cls.inv2, 500.0, {}),
            (cust_b, "rmm_charge", cls.inv3, 250.25, {}),
            (cust_b, "expense", cls.inv4, 150.0, {}),
            (cust_b, "intercompany", cls.inv4, 250.0, {}),
            (cust_b, "recurring", cls.inv5, 300.0, {"contract_line_id": device_contract.contract_line_ids.id}),
        ]
        cls.env["psa.billing.run.line"].create(
            [
                {
                    "run_id": run.id,
                    "company_id": cls.env.company.id,
                    "partner_id": partner.id,
                    "state": "invoiced",
                    "source_type": source_type,
                    "currency_id": cls.env.company.currency_id.id,
                    "amount": amount,
                    "move_id": move.id,
                    **extra,
                }
                for partner, source_type, move, amount, extra in lines
            ]
            # still to bill: not billed yet, not on the dashboard's billed figures
            + [
                {
                    "run_id": run.id,
                    "company_id": cls.env.company.id,
                    "partner_id": cust_b.id,
                    "state": "pending",
                    "source_type": "time",
                    "currency_id": cls.env.company.currency_id.id,
                    "amount": 999.0,
                    "move_id": cls.inv5.id,
                }
            ]
        )

        def billed(partner, kind, move, amount):
            return cls._row(partner, kind=kind, invoice_date=move.invoice_date, amount=amount)

        def receivable(partner, move, total, residual, bucket, last_year):
            return cls._row(
                partner,
                invoice_date=move.invoice_date,
                amount_total=total,
                amount_residual=residual,
                amount_overdue=0.0 if bucket == "not_due" else residual,
                is_open=bool(residual),
                overdue_bucket=bucket,
                invoiced_last_365=last_year,
            )

        cls.expected_rows["psa.dashboard.billed"] = [
            billed(cust_a, "time", cls.inv1, 300.0),
            billed(cust_a, "milestone", cls.inv1, 700.10),
            billed(cust_a, "agreement", cls.inv2, 500.0),
            billed(cust_b, "rmm_charge", cls.inv3, 250.25),
            billed(cust_b, "expense", cls.inv4, 150.0),
            billed(cust_b, "intercompany", cls.inv4, 250.0),
            billed(cust_b, "device", cls.inv5, 300.0),
        ]
        cls.expected_rows["psa.dashboard.receivable"] = [
            receivable(cust_a, cls.inv1, 1000.10, 1000.10, "1_30", True),
            receivable(cust_a, cls.inv2, 500.0, 500.0, "61_90", True),
            receivable(cust_b, cls.inv3, 250.25, 250.25, "not_due", True),
            receivable(cust_b, cls.inv4, 400.0, 0.0, "1_30", True),
            receivable(cust_b, cls.inv5, 300.0, 300.0, "91_plus", False),
        ]

    # ------------------------------------------------------------------ auto-pay
    @classmethod
    def _build_payment_attempts(cls):
        provider = cls.env["payment.provider"].create(
            {"name": "Dashboard demo cards", "code": "none", "state": "test", "company_id": cls.env.company.id}
        )
        method = cls.env.ref("payment.payment_method_card")
        token = cls.env["payment.token"].create(
            {
                "provider_id": provider.id,
                "payment_method_id": method.id,
                "partner_id": cls.customer_a.id,
                "payment_details": "4242",
                "provider_ref": "dashboard-token",
            }
        )
        mandate = cls.env["psa.payment.mandate"].create({"partner_id": cls.customer_a.id, "token_id": token.id})
        attempts = [
            (cls.inv1, 1, "failed", 1000.10, -9),
            (cls.inv1, 2, "pending", 1000.10, -2),
            (cls.inv2, 1, "failed", 500.0, -65),
            (cls.inv2, 2, "failed", 500.0, -60),
            (cls.inv2, 3, "unknown", 500.0, -55),
            (cls.inv4, 1, "done", 400.0, -5),
        ]
        cls.env["psa.payment.attempt"].create(
            [
                {
                    "move_id": move.id,
                    "mandate_id": mandate.id,
                    "number": number,
                    "state": state,
                    "amount": amount,
                    "currency_id": cls.env.company.currency_id.id,
                    "attempt_date": cls.day(offset),
                    "idempotency_key": f"dashboard-{move.id}-{number}",
                }
                for move, number, state, amount, offset in attempts
            ]
        )
        cls.expected_rows["psa.payment.attempt"] = [
            cls._row(
                move.commercial_partner_id, number=number, state=state, amount=amount, attempt_date=cls.day(offset)
            )
            for move, number, state, amount, offset in attempts
        ]

    # ------------------------------------------------------------------ prepaid funds
    @classmethod
    def _build_prepaid_funds(cls):
        cust_a, cust_b = cls.customer_a, cls.customer_b
        funds = cls.env["psa.prepaid.fund"].create(
            [
                {
                    "name": "Dashboard A support hours",
                    "partner_id": cust_a.id,
                    "unit": "hours",
                    "initial_quantity": 20.0,
                    "sale_line_id": cls.time_line.id,
                    "low_balance_threshold": 5.0,
                    "date_start": cls.day(-60),
                },
                {
                    "name": "Dashboard B budget",
                    "partner_id": cust_b.id,
                    "unit": "amount",
                    "initial_quantity": 1000.0,
                    "low_balance_threshold": 100.0,
                    "date_start": cls.day(-60),
                },
                {
                    "name": "Dashboard B old block",
                    "partner_id": cust_b.id,
                    "unit": "hours",
                    "initial_quantity": 10.0,
                    "date_start": cls.day(-400),
                },
            ]
        )
        cls.fund_low, fund_amount, fund_settled = funds
        fund_settled.state = "settled"
        entries = cls.env["account.analytic.line"].create(
            [
                {
                    "name": name,
                    "project_id": cls.env["project.project"].create({"name": name, "partner_id": partner.id}).id,
                    "employee_id": cls.employee.id,
                    "date": day,
                    "unit_amount": hours,
                }
                for name, partner, day, hours in (
                    ("Dashboard prepaid A", cust_a, cls.today, 16.0),
                    ("Dashboard prepaid B", cust_b, cls.day(-40), 2.5),
                )
            ]
        )
        # drawn and billed long ago: not work in progress
        entries.with_context(psa_approval_write=True).write({"psa_approval_state": "invoiced"})
        cls.env["psa.prepaid.drawdown"].create(
            [
                {
                    "fund_id": cls.fund_low.id,
                    "company_id": cls.env.company.id,
                    "partner_id": cust_a.id,
                    "timesheet_id": entries[0].id,
                    "date": cls.today,
                    "quantity": 16.0,
                },
                {
                    "fund_id": fund_amount.id,
                    "company_id": cls.env.company.id,
                    "partner_id": cust_b.id,
                    "timesheet_id": entries[1].id,
                    "date": cls.day(-40),
                    "quantity": 250.0,
                },
            ]
        )

        def fund_row(partner, fund, unit, state, remaining, value, drawn, drawn_value, low):
            return cls._row(
                partner,
                fund_id=fund.id,
                unit=unit,
                state=state,
                remaining_quantity=remaining,
                remaining_value=value,
                drawn_this_month=drawn,
                drawn_value_this_month=drawn_value,
                is_low=low,
            )

        cls.expected_rows["psa.dashboard.prepaid"] = [
            # 20 h bought, 16 h drawn today: 4 h left at 95.50, at or below the 5 h threshold
            fund_row(cust_a, cls.fund_low, "hours", "open", 4.0, 382.0, 16.0, 1528.0, True),
            fund_row(cust_b, fund_amount, "amount", "open", 750.0, 750.0, 0.0, 0.0, False),
            fund_row(cust_b, fund_settled, "hours", "settled", 10.0, 0.0, 0.0, 0.0, False),
        ]
        # the draw-down of 2.5 h on B's time entry was last month or before: not "this month"
        assert cls.day(-40) < cls.today.replace(day=1)

    # ------------------------------------------------------------------ service desk
    @classmethod
    def _build_service_desk(cls):
        cust_a, cust_b = cls.customer_a, cls.customer_b
        team = cls.env["helpdesk.ticket.team"].create({"name": "Dashboard desk"})
        product = cls.env["product.product"].create({"name": "Dashboard auto-remediation", "type": "service"})
        integration = cls.env["psa.rmm.integration"].create(
            {"name": "Dashboard RMM", "kind": "native", "team_id": team.id, "charge_product_id": product.id}
        )
        tickets = cls.env["helpdesk.ticket"].create(
            [
                {
                    "name": "Disk full",
                    "description": "RMM",
                    "partner_id": cust_a.id,
                    "team_id": team.id,
                    "psa_rmm_integration_id": integration.id,
                    "psa_rmm_alert_ref": "DA-1",
                },
                {
                    "name": "Backup failed",
                    "description": "RMM",
                    "partner_id": cust_b.id,
                    "team_id": team.id,
                    "psa_rmm_integration_id": integration.id,
                    "psa_rmm_alert_ref": "DB-1",
                },
                {"name": "Printer (phoned in)", "description": "by hand", "partner_id": cust_a.id, "team_id": team.id},
            ]
        )
        opened_a, opened_b, _by_hand = tickets

        def event(ref, event_type, partner, offset, ticket, alert):
            return {
                "integration_id": integration.id,
                "company_id": cls.env.company.id,
                "rmm_event_id": ref,
                "event_type": event_type,
                "occurred_at": datetime.combine(cls.day(offset), datetime.min.time()) + timedelta(hours=12),
                "alert_id": alert,
                "partner_id": partner.id,
                "ticket_id": ticket.id if ticket else False,
                "state": "done",
            }

        events = cls.env["psa.rmm.event"].create(
            [
                event("dash-1", "alert.raised", cust_a, -3, opened_a, "DA-1"),
                event("dash-2", "alert.updated", cust_a, -2, opened_a, "DA-1"),
                event("dash-3", "alert.raised", cust_a, -2, opened_a, "DA-1"),
                event("dash-4", "alert.auto_resolved", cust_a, -1, opened_a, "DA-1"),
                event("dash-5", "alert.raised", cust_b, -1, opened_b, "DB-1"),
                event("dash-6", "alert.auto_resolved", cust_b, -1, False, "DB-2"),
                event("dash-7", "alert.auto_resolved", cust_a, -1, False, "DA-2"),
            ]
        )
        charge = cls.env["psa.rmm.charge"]
        charge.create(
            [
                {
                    "event_id": events[3].id,
                    "integration_id": integration.id,
                    "company_id": cls.env.company.id,
                    "partner_id": cust_a.id,
                    "date": cls.day(-1),
                    "product_id": product.id,
                    "quantity": 1.0,
                    "price_unit": 20.0,
                    "explanation": "included event",
                },
                {
                    "event_id": events[6].id,
                    "integration_id": integration.id,
                    "company_id": cls.env.company.id,
                    "partner_id": cust_a.id,
                    "date": cls.day(-1),
                    "product_id": product.id,
                    "quantity": 2.0,
                    "price_unit": 15.5,
                    "explanation": "overage",
                },
                {
                    "event_id": events[5].id,
                    "integration_id": integration.id,
                    "company_id": cls.env.company.id,
                    "partner_id": cust_b.id,
                    "date": cls.day(-1),
                    "product_id": product.id,
                    "quantity": 1.0,
                    "price_unit": 20.0,
                    "explanation": "included event",
                },
            ]
        )
        opened_on = fields.Date.to_date(opened_a.create_date)

        def service(partner, kind, day):
            return cls._row(partner, kind=kind, date=day)

        cls.expected_rows["psa.dashboard.service"] = [
            service(cust_a, "alert", cls.day(-3)),
            service(cust_a, "alert", cls.day(-2)),
            service(cust_b, "alert", cls.day(-1)),
            service(cust_a, "ticket_opened", opened_on),
            service(cust_b, "ticket_opened", opened_on),
            # A's alert resolved by itself closed its ticket; the other two resolved alerts had no ticket to close
            service(cust_a, "ticket_closed", cls.day(-1)),
        ]
        cls.expected_rows["psa.rmm.charge"] = [
            cls._row(cust_a, amount=20.0),
            cls._row(cust_a, amount=31.0),
            cls._row(cust_b, amount=20.0),
        ]


def month_start(value):
    if isinstance(value, datetime):
        value = value.date()
    return date(value.year, value.month, 1)
