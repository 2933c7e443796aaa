from datetime import date

from odoo import Command
from odoo.tests import tagged

from odoo.addons.account.tests.common import AccountTestInvoicingCommon

PERIOD_END = date(2026, 10, 31)
INVOICE_DATE = date(2026, 11, 1)


@tagged("post_install", "-at_install")
class TestBillingRunIntercompany(AccountTestInvoicingCommon):
    """A consultant of company A logs 10 h in October on a project of company B, sold by B to its
    customer at 150.00 an hour. A's run bills B for that time at A's intercompany rate (80.00),
    OCA mirrors it as a vendor bill in B; B's run bills the same time to B's customer, once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.company_data["company"]
        cls.company_b = cls.setup_other_company(name="PSA Sister Company B")["company"]
        cls.env.user.company_ids |= cls.company_a | cls.company_b
        cls.env = cls.env(context=dict(cls.env.context, allowed_company_ids=[cls.company_a.id, cls.company_b.id]))
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

    def _run(self, company):
        run = (
            self.env["psa.billing.run"]
            .with_company(company)
            .create(
                {
                    "company_id": company.id,
                    "company_ids": [Command.set(company.ids)],
                    "period_end": PERIOD_END,
                    "invoice_date": INVOICE_DATE,
                }
            )
        )
        run.action_preview()
        run.action_confirm()
        return run

    def _intercompany_lines(self, run):
        return run.line_ids.filtered(lambda line: line.source_type == "intercompany")

    def test_time_is_billed_to_the_sister_company_and_mirrored_once(self):
        run_a = self._run(self.company_a)
        lines = self._intercompany_lines(run_a)
        self.assertEqual(len(lines), 2)
        self.assertEqual(set(lines.mapped("state")), {"invoiced"})
        invoice = lines.move_id
        self.assertEqual(len(invoice), 1)
        self.assertEqual(invoice.company_id, self.company_a)
        self.assertEqual(invoice.partner_id, self.company_b.partner_id)
        self.assertEqual(invoice.state, "posted")
        self.assertAlmostEqual(invoice.amount_untaxed, 800.0, msg="10 h at A's intercompany rate")
        self.assertIn(
            "at $\xa080.00 per hour (intercompany rate of", invoice.invoice_line_ids[0].psa_billing_explanation
        )
        bill = self.env["account.move"].sudo().search([("auto_invoice_id", "=", invoice.id)])
        self.assertEqual(len(bill), 1, "OCA account_invoice_inter_company mirrors it")
        self.assertEqual(bill.company_id, self.company_b)
        self.assertEqual(bill.move_type, "in_invoice")
        self.assertAlmostEqual(bill.amount_total, invoice.amount_total)

        rerun = self._run(self.company_a)
        self.assertFalse(self._intercompany_lines(rerun), "a rerun bills the time to B no second time")
        self.assertEqual(self.env["account.move"].sudo().search_count([("auto_invoice_id", "=", invoice.id)]), 1)

        run_b = self._run(self.company_b)
        self.assertFalse(self._intercompany_lines(run_b))
        customer_invoice = self.order_b.invoice_ids
        self.assertEqual(len(customer_invoice), 1)
        self.assertEqual(customer_invoice.company_id, self.company_b)
        self.assertAlmostEqual(customer_invoice.amount_untaxed, 1500.0, msg="B bills its customer at its own rate")
        self.assertEqual(self.time.timesheet_invoice_id, customer_invoice)
        self.assertFalse(self._run(self.company_b).line_ids.filtered(lambda line: line.kind == "bill"))

    def test_employee_cost_is_the_fallback_rate(self):
        self.company_a.psa_intercompany_rate = 0.0
        run_a = self._run(self.company_a)
        lines = self._intercompany_lines(run_a)
        self.assertAlmostEqual(sum(lines.mapped("amount")), 550.0)
        self.assertIn("employee cost of Consultant of A", lines[0].explanation)
