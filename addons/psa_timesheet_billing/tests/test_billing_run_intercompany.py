from odoo.tests import tagged

from odoo.addons.psa_orders.tests.common import draft_credit_note

from .intercompany_common import IntercompanyCommon


@tagged("post_install", "-at_install")
class TestBillingRunIntercompany(IntercompanyCommon):
    def test_time_is_billed_to_the_sister_company_and_mirrored_once(self):
        run_a = self._run(self.company_a)
        lines = self._intercompany_lines(run_a)
        self.assertEqual(len(lines), 1, "one line for the project, the employee's company and the rate")
        self.assertEqual(lines.state, "invoiced")
        self.assertAlmostEqual(lines.quantity, 10.0)
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

    def test_time_of_an_intercompany_invoice_reversed_in_full_is_billed_again_once(self):
        invoice = self._intercompany_lines(self._run(self.company_a)).move_id
        refund = draft_credit_note(invoice, "wrong intercompany rate")
        refund.action_post()
        self.assertEqual(invoice.payment_state, "reversed")

        again = self._intercompany_lines(self._run(self.company_a))
        self.assertEqual(again.state, "invoiced")
        self.assertAlmostEqual(again.quantity, 10.0, msg="the same 10 h, billed again once")
        self.assertNotEqual(again.move_id, invoice)
        self.assertAlmostEqual(again.move_id.amount_untaxed, 800.0)
        self.assertFalse(self._intercompany_lines(self._run(self.company_a)), "and not a third time")

    def test_line_is_billed_when_its_first_entry_went_back_to_approval_since_the_preview(self):
        run = self._new_run(self.company_a)
        line = self._intercompany_lines(run)
        self.assertEqual(line.timesheet_ids, self.time)
        first = self.time.sorted("id")[0]
        first.action_psa_reset()
        run.action_confirm()
        self.assertEqual(line.state, "invoiced", "the rest of the line is billed, not skipped")
        self.assertAlmostEqual(line.quantity, 10.0 - first.unit_amount)
        self.assertAlmostEqual(line.move_id.amount_untaxed, (10.0 - first.unit_amount) * 80.0)
        first.action_psa_approve(reason="checked again")
        later = self._intercompany_lines(self._run(self.company_a))
        self.assertAlmostEqual(later.quantity, first.unit_amount, msg="and the entry once approved again")

    def test_employee_cost_is_the_fallback_rate(self):
        self.company_a.psa_intercompany_rate = 0.0
        run_a = self._run(self.company_a)
        lines = self._intercompany_lines(run_a)
        self.assertAlmostEqual(sum(lines.mapped("amount")), 550.0)
        self.assertIn("employee cost of Consultant of A", lines[0].explanation)
