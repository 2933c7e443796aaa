from datetime import date

from odoo import Command
from odoo.tests import tagged

from odoo.addons.psa_orders.tests.common import draft_credit_note

from .billing_run_common import BillingRunCommon

OCTOBER = [(date(2026, 10, 5), 3.0), (date(2026, 10, 14), 2.5)]


@tagged("post_install", "-at_install")
class TestBillingRunReversal(BillingRunCommon):
    """A credit note that reverses a run's invoice in full gives its sources back to the next run;
    a partial one gives nothing back (as Odoo's own invoicing treats the time of such invoices)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.order = cls._create_order(
            cls.customer_a, [(cls.product_time, 40, 120.0), (cls.product_fixed, 1, 500.0)], po="PO-REV-1"
        )
        cls.time_line, cls.fee_line = cls.order.order_line
        cls.project = cls._create_project(cls.time_line)
        cls.time = cls._log_time(cls.time_line, cls.project, OCTOBER)

    def _bill(self):
        run = self._new_run(partner_ids=[Command.set(self.customer_a.ids)])
        run.action_preview()
        bill_lines = run.line_ids.filtered(lambda line: line.kind == "bill")
        if bill_lines:
            run.action_confirm()
        return run, bill_lines

    def _credit_note(self, invoice, change=None):
        """The credit note of ``invoice`` made by the reversal wizard, as the clerk; ``change`` edits
        the draft before it is posted."""
        refund = draft_credit_note(invoice, "billed to the wrong contact", user=self.clerk)
        if change:
            change(refund)
        refund.with_user(self.clerk).action_post()
        return refund

    def _keys_of(self, invoice):
        return self.env["psa.billing.key"].sudo().search([("move_id", "=", invoice.id)])

    def test_full_credit_note_gives_time_and_fee_back_to_the_next_run(self):
        first_run, _lines = self._bill()
        invoice = first_run.invoice_ids
        self.assertEqual(invoice.state, "posted")
        self.assertAlmostEqual(invoice.amount_untaxed, 5.5 * 120.0 + 500.0)
        self.assertEqual(set(self.time.mapped("psa_approval_state")), {"invoiced"})
        self.assertEqual(len(self._keys_of(invoice)), 3, "two time entries and the fee's quantity")

        refund = self._credit_note(invoice)
        self.assertEqual(invoice.payment_state, "reversed")
        self.assertEqual(set(self.time.mapped("psa_approval_state")), {"approved"})
        self.assertEqual(len(self._keys_of(invoice)), 3, "kept, free, until a run takes them over")
        message = invoice.message_ids[:1].body
        self.assertIn("Reversed in full by", message)
        self.assertIn(refund.name, message)
        refund.with_user(self.clerk).button_draft()
        self.assertEqual(invoice.payment_state, "not_paid")
        self.assertEqual(set(self.time.mapped("psa_approval_state")), {"invoiced"}, "reversed no more")
        while_draft, bill_lines = self._bill()
        self.assertFalse(bill_lines.filtered(lambda line: line.source_type == "time"))
        self.assertFalse(while_draft.invoice_ids, "the fee Odoo counts as credited by the draft is not billed")
        self.assertFalse(bill_lines, "and the preview says so")
        skipped_fee = while_draft.line_ids.filtered(lambda line: line.sale_line_id == self.fee_line)
        self.assertEqual(skipped_fee.kind, "skip")
        self.assertEqual(skipped_fee.skip_reason, f"already billed on {invoice.name}")
        refund.with_user(self.clerk).action_post()
        self.assertEqual(invoice.payment_state, "reversed")
        self.assertEqual(set(self.time.mapped("psa_approval_state")), {"approved"})

        second_run, bill_lines = self._bill()
        self.assertEqual(sorted(bill_lines.mapped("source_type")), ["service", "time"])
        again = second_run.invoice_ids
        self.assertEqual(len(again), 1)
        self.assertNotEqual(again, invoice)
        self.assertEqual(again.state, "posted")
        self.assertAlmostEqual(again.amount_untaxed, invoice.amount_untaxed, msg="billed again in full, once")
        self.assertEqual(self.time.timesheet_invoice_id, again)
        self.assertEqual(set(self.time.mapped("psa_approval_state")), {"invoiced"})
        self.assertEqual(self.fee_line.qty_invoiced, 1.0)
        self.assertEqual(len(self._keys_of(again)), 3, "the keys now name the new invoice")
        self.assertFalse(self._keys_of(invoice))

        third_run, bill_lines = self._bill()
        self.assertFalse(bill_lines, "a rerun after the re-billing bills nothing")
        self.assertFalse(third_run.invoice_ids)

    def test_partial_credit_note_gives_nothing_back(self):
        first_run, _lines = self._bill()
        invoice = first_run.invoice_ids

        def credit_one_hour_only(refund):
            fee = refund.invoice_line_ids.filtered(lambda line: line.product_id == self.product_fixed)
            time = refund.invoice_line_ids - fee
            refund.write({"invoice_line_ids": [Command.delete(fee.id), Command.update(time.id, {"quantity": 1.0})]})

        refund = self._credit_note(invoice, change=credit_one_hour_only)
        self.assertAlmostEqual(refund.amount_untaxed, 120.0)
        self.assertEqual(invoice.payment_state, "partial")
        self.assertEqual(set(self.time.mapped("psa_approval_state")), {"invoiced"}, "the invoice still bills them")
        self.assertEqual(len(self._keys_of(invoice)), 3)
        self.assertFalse(any("Reversed in full" in (body or "") for body in invoice.message_ids.mapped("body")))

        second_run, bill_lines = self._bill()
        self.assertFalse(bill_lines.filtered(lambda line: line.source_type == "time"), "no time billed twice")
        self.assertFalse(bill_lines.filtered(lambda line: line.sale_line_id == self.fee_line))
        self.assertFalse(second_run.invoice_ids)
