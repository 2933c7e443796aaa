from datetime import date

from odoo import Command
from odoo.tests import tagged

from .billing_run_common import BillingRunCommon


@tagged("post_install", "-at_install")
class TestBillingRunExpense(BillingRunCommon):
    """A consultant's train ticket, re-invoiced to customer A at sales price, with its receipt."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.order = cls._create_order(cls.customer_a, [(cls.product_time, 10, 120.0)], po="PO-EXP")
        cls.project = cls._create_project(cls.order.order_line)
        cls.travel = cls.env["product.product"].create(
            {
                "name": "Run travel",
                "type": "service",
                "can_be_expensed": True,
                "expense_policy": "sales_price",
                "invoice_policy": "delivery",
                "list_price": 80.0,
                "standard_price": 80.0,
            }
        )
        cls.traveller = cls.env["hr.employee"].create({"name": "Run Traveller"})
        cls.expense = cls.env["hr.expense"].create(
            {
                "name": "Train to the customer site",
                "employee_id": cls.traveller.id,
                "product_id": cls.travel.id,
                "total_amount_currency": 80.0,
                "date": date(2026, 10, 14),
                "sale_order_id": cls.order.id,
                "analytic_distribution": {str(cls.project.account_id.id): 100},
                "tax_ids": [Command.clear()],
            }
        )
        cls.receipt = cls.env["ir.attachment"].create(
            {"name": "train-ticket.pdf", "res_model": "hr.expense", "res_id": cls.expense.id, "raw": b"%PDF-1.4 ticket"}
        )
        sheet = cls.env["hr.expense.sheet"].create(
            {
                "name": "October travel",
                "employee_id": cls.traveller.id,
                "expense_line_ids": [Command.set(cls.expense.ids)],
            }
        )
        sheet.action_submit_sheet()
        sheet._do_approve()
        sheet.action_sheet_move_post()
        cls.expense_line = cls.order.order_line.filtered("is_expense")

    def test_expense_is_billed_with_its_receipt(self):
        self.assertEqual(len(self.expense_line), 1, "posting the expense created the re-invoice line")
        run = self._new_run(partner_ids=[Command.set(self.customer_a.ids)])
        run.action_preview()
        line = run.line_ids.filtered(lambda run_line: run_line.source_type == "expense")
        self.assertAlmostEqual(line.amount, 80.0)
        run.action_confirm()
        invoice = run.invoice_ids
        invoice_line = invoice.invoice_line_ids.filtered(lambda move_line: move_line.sale_line_ids == self.expense_line)
        for expected in ("Train to the customer site", "Run Traveller", "2026-10-14", "1 receipt(s) attached"):
            self.assertIn(expected, invoice_line.psa_billing_explanation)
        attached = self.env["ir.attachment"].search([("res_model", "=", "account.move"), ("res_id", "=", invoice.id)])
        self.assertIn("train-ticket.pdf", attached.mapped("name"))
        self.assertEqual(attached.filtered(lambda att: att.name == "train-ticket.pdf").raw, b"%PDF-1.4 ticket")
        sent_with_email = self.env["account.move.send"]._get_invoice_extra_attachments(invoice)
        self.assertIn("train-ticket.pdf", sent_with_email.mapped("name"))

    def test_run_invoice_renders_as_pdf_and_is_sent_with_its_receipt(self):
        """The run's posted invoice is rendered by wkhtmltopdf (a real PDF, not the HTML that Odoo's tests
        fall back to) and e-mailed with the expense receipt beside it. Without wkhtmltopdf this fails with
        Odoo's "Unable to find Wkhtmltopdf", as it would for the customer."""
        self.customer_a.email = "billing@run-customer-a.example.com"
        run = self._new_run(partner_ids=[Command.set(self.customer_a.ids)])
        run.action_preview()
        run.action_confirm()
        invoice = run.invoice_ids
        self.assertEqual(invoice.state, "posted")
        self.env["account.move.send"].with_context(force_report_rendering=True)._generate_and_send_invoices(
            invoice, sending_methods=["email"]
        )
        pdf = invoice.invoice_pdf_report_id
        self.assertTrue(pdf, "the invoice PDF was generated")
        self.assertEqual(pdf.mimetype, "application/pdf")
        self.assertTrue(pdf.raw.startswith(b"%PDF-"), "wkhtmltopdf rendered a PDF")
        self.assertIn(invoice.name.replace("/", "_"), pdf.name)
        sent = invoice.message_ids.filtered(lambda msg: msg.message_type == "comment" and msg.attachment_ids)
        self.assertEqual(len(sent), 1, "one e-mail went to the customer")
        self.assertIn(self.customer_a, sent.partner_ids)
        self.assertEqual(
            sorted(sent.attachment_ids.mapped("name")), sorted([pdf.name, "train-ticket.pdf"]), "PDF and receipt"
        )
