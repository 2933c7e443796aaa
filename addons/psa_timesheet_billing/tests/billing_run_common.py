from datetime import date, datetime

from odoo import Command
from odoo.tests import new_test_user

from odoo.addons.base.tests.common import BaseCommon


class BillingRunCommon(BaseCommon):
    """Fixtures of the billing run: two customers on time and materials, a billing clerk.

    The clerk has the lowest rights that bill: Invoicing user + Sales "all documents".
    Time is logged in October 2026 and approved by a timesheet manager; the runs bill up to
    2026-10-31 and date their invoices 2026-11-01.
    """

    PERIOD_END = date(2026, 10, 31)
    INVOICE_DATE = date(2026, 11, 1)
    ORDER_DATE = datetime(2026, 10, 1, 9, 0)

    # The run's batch jobs run at once, in order, in the test's transaction, as one job worker would run
    # them (queue_job's ``queue_job__no_delay``); ``TestBillingRunJobs`` tests the jobs themselves.
    RUN_JOBS_NOW = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if cls.RUN_JOBS_NOW:
            cls.env = cls.env(context=dict(cls.env.context, queue_job__no_delay=True))
        cls.clerk = new_test_user(
            cls.env,
            login="psa_billing_clerk",
            groups="account.group_account_invoice,sales_team.group_sale_salesman_all_leads",
        )
        cls.ts_manager = new_test_user(
            cls.env, login="psa_billing_ts_manager", groups="hr_timesheet.group_timesheet_manager"
        )
        cls.employee = cls.env["hr.employee"].create({"name": "Billing Run Consultant"})
        uom_hour = cls.env.ref("uom.product_uom_hour")
        cls.product_time = cls.env["product.product"].create(
            {
                "name": "Run consulting (hourly)",
                "type": "service",
                "invoice_policy": "delivery",
                "service_type": "timesheet",
                "list_price": 120.0,
                "uom_id": uom_hour.id,
                "uom_po_id": uom_hour.id,
            }
        )
        cls.product_fixed = cls.env["product.product"].create(
            {"name": "Run onboarding fee", "type": "service", "invoice_policy": "order", "list_price": 500.0}
        )
        cls.customer_a = cls.env["res.partner"].create({"name": "Run Customer A", "is_company": True})
        cls.customer_b = cls.env["res.partner"].create({"name": "Run Customer B", "is_company": True})

    @classmethod
    def _create_order(cls, partner, lines, po=None):
        """A confirmed order; ``lines`` is a list of ``(product, quantity, price)``."""
        order = cls.env["sale.order"].create(
            {
                "partner_id": partner.id,
                "client_order_ref": po,
                "order_line": [
                    Command.create({"product_id": product.id, "product_uom_qty": qty, "price_unit": price})
                    for product, qty, price in lines
                ],
            }
        )
        order.action_confirm()
        # confirmed within the billed period (a run bills no order confirmed after its period end)
        order.date_order = cls.ORDER_DATE
        return order

    @classmethod
    def _create_project(cls, sale_line):
        """A billable engagement whose time goes to ``sale_line`` (as when the order creates it)."""
        return cls.env["project.project"].create(
            {
                "name": f"Engagement of {sale_line.order_id.name}",
                "partner_id": sale_line.order_id.partner_id.id,
                "allow_timesheets": True,
                "allow_billable": True,
                "sale_line_id": sale_line.id,
            }
        )

    @classmethod
    def _log_time(cls, sale_line, project, entries, approve=True):
        """Log ``entries`` (``(date, hours)``) on ``sale_line``; approved by the manager unless told."""
        lines = cls.env["account.analytic.line"].create(
            [
                {
                    "name": f"Work of {day}",
                    "project_id": project.id,
                    "employee_id": cls.employee.id,
                    "so_line": sale_line.id,
                    "date": day,
                    "unit_amount": hours,
                }
                for day, hours in entries
            ]
        )
        if approve:
            lines.with_user(cls.ts_manager).action_psa_approve(reason="checked by the test manager")
        return lines

    def _new_run(self, **values):
        vals = {"period_end": self.PERIOD_END, "invoice_date": self.INVOICE_DATE, **values}
        return self.env["psa.billing.run"].with_user(self.clerk).create(vals)


class CronRunCommon(BillingRunCommon):
    """One order of customer A with 5 approved hours logged on 15 October 2026: what the crons bill."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.order = cls._create_order(cls.customer_a, [(cls.product_time, 20, 100.0)])
        cls.project = cls._create_project(cls.order.order_line)
        cls.time = cls._log_time(cls.order.order_line, cls.project, [(date(2026, 10, 15), 5.0)])
