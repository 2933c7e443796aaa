from datetime import date

from odoo import Command

from odoo.addons.account.tests.common import AccountTestInvoicingCommon

PERIOD_END = date(2026, 10, 31)
INVOICE_DATE = date(2026, 11, 1)


class IntercompanyCommon(AccountTestInvoicingCommon):
    """A consultant of company A logs 10 h in October on a project of company B, sold by B to its
    customer at 150.00 an hour. A's run bills B for that time at A's intercompany rate (80.00),
    OCA mirrors it as a vendor bill in B; B's run bills the same time to B's customer, once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.company_data["company"]
        cls.company_b = cls.setup_other_company(name="PSA Sister Company B")["company"]
        cls.env.user.company_ids |= cls.company_a | cls.company_b
        # the run's batch jobs run at once, in order, in the test's transaction (as one job worker would)
        cls.env = cls.env(
            context=dict(
                cls.env.context, allowed_company_ids=[cls.company_a.id, cls.company_b.id], queue_job__no_delay=True
            )
        )
        cls.company_a.psa_intercompany_rate = 80.0
        cls.consultant = cls.env["hr.employee"].create(
            {"name": "Consultant of A", "company_id": cls.company_a.id, "hourly_cost": 55.0}
        )
        hour = cls.env.ref("uom.product_uom_hour")
        product = cls.env["product.product"].create(
            {
                "name": "B consulting hour",
                "type": "service",
                "service_type": "timesheet",
                "invoice_policy": "delivery",
                "uom_id": hour.id,
                "uom_po_id": hour.id,
                "list_price": 150.0,
                "taxes_id": [Command.clear()],
            }
        )
        cls.customer_of_b = cls.env["res.partner"].create({"name": "Customer of B", "is_company": True})
        env_b = cls.env(context=dict(cls.env.context, allowed_company_ids=[cls.company_b.id, cls.company_a.id]))
        cls.order_b = (
            env_b["sale.order"]
            .with_company(cls.company_b)
            .create(
                {
                    "partner_id": cls.customer_of_b.id,
                    "company_id": cls.company_b.id,
                    "order_line": [Command.create({"product_id": product.id, "product_uom_qty": 40})],
                }
            )
        )
        cls.order_b.action_confirm()
        cls.order_b.date_order = "2026-10-01 09:00:00"
        cls.project_b = env_b["project.project"].create(
            {
                "name": "B's rollout",
                "company_id": cls.company_b.id,
                "partner_id": cls.customer_of_b.id,
                "allow_timesheets": True,
                "allow_billable": True,
                "sale_line_id": cls.order_b.order_line.id,
            }
        )
        cls.time = env_b["account.analytic.line"].create(
            [
                {
                    "name": f"Rollout work {day}",
                    "project_id": cls.project_b.id,
                    "company_id": cls.company_b.id,
                    "employee_id": cls.consultant.id,
                    "so_line": cls.order_b.order_line.id,
                    "date": day,
                    "unit_amount": hours,
                }
                for day, hours in ((date(2026, 10, 6), 4.0), (date(2026, 10, 20), 6.0))
            ]
        )
        cls.time.action_psa_approve(reason="checked by the test")

    def _new_run(self, company, companies=None, user=None):
        """A run of ``company`` over ``companies`` (default: that company alone), previewed."""
        env = self.env
        if user:
            env = self.env(user=user, context=dict(self.env.context, allowed_company_ids=user.company_ids.ids))
        run = (
            env["psa.billing.run"]
            .with_company(company)
            .create(
                {
                    "company_id": company.id,
                    "company_ids": [Command.set((companies or company).ids)],
                    "period_end": PERIOD_END,
                    "invoice_date": INVOICE_DATE,
                }
            )
        )
        run.action_preview()
        return run

    def _run(self, company, companies=None, user=None):
        run = self._new_run(company, companies, user)
        run.action_confirm()
        return run

    @classmethod
    def _log_time(cls, project, employee, entries):
        """Approved time of ``employee`` on ``project`` (a project of company B): ``(date, hours)``."""
        env_b = cls.env(context=dict(cls.env.context, allowed_company_ids=[cls.company_b.id, cls.company_a.id]))
        lines = env_b["account.analytic.line"].create(
            [
                {
                    "name": f"{project.name} work {day}",
                    "project_id": project.id,
                    "company_id": cls.company_b.id,
                    "employee_id": employee.id,
                    "so_line": project.sale_line_id.id,
                    "date": day,
                    "unit_amount": hours,
                }
                for day, hours in entries
            ]
        )
        lines.action_psa_approve(reason="checked by the test")
        return lines

    def _intercompany_lines(self, run):
        return run.line_ids.filtered(lambda line: line.source_type == "intercompany")
