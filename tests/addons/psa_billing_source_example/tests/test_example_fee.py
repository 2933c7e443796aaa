from datetime import date
from unittest.mock import patch

from odoo import Command
from odoo.tests import tagged

from odoo.addons.psa_orders.tests.common import draft_credit_note
from odoo.addons.psa_timesheet_billing.tests.billing_run_common import BillingRunCommon


@tagged("post_install", "-at_install")
class TestExampleFee(BillingRunCommon):
    """Customer A owes a 250.00 set-up fee of 12 October 2026, a record of a model of its own that
    only inherits psa.billable.mixin: previewed, confirmed, credited and billed again, each once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fee = cls.env["psa.example.fee"].create(
            {"name": "Set-up fee", "partner_id": cls.customer_a.id, "date": date(2026, 10, 12), "amount": 250.0}
        )

    def _run(self, confirm=True):
        run = self._new_run(partner_ids=[Command.set(self.customer_a.ids)])
        run.action_preview()
        if confirm and run.line_ids.filtered(lambda line: line.kind == "bill"):
            run.action_confirm()
        return run

    def _fee_lines(self, run):
        return run.line_ids.filtered(lambda line: line.source_model == "psa.example.fee")

    def test_previewed_confirmed_credited_and_billed_again_once(self):
        preview = self._run(confirm=False)
        line = self._fee_lines(preview)
        self.assertEqual((line.kind, line.source_res_id, line.amount), ("bill", self.fee.id, 250.0))
        self.assertIn("Example fee Set-up fee of 2026-10-12", line.explanation)
        self.assertFalse(self.env["account.move"].search([("partner_id", "=", self.customer_a.id)]))
        preview.action_confirm()
        invoice = line.move_id
        self.assertEqual((line.state, invoice.state, invoice.amount_untaxed), ("invoiced", "posted", 250.0))
        self.assertIn("Example fee", invoice.invoice_line_ids.psa_billing_explanation)
        key = self.env["psa.billing.key"].search([("move_id", "=", invoice.id)])
        self.assertEqual((key.source_model, key.source_res_id, key.period), ("psa.example.fee", self.fee.id, "once"))
        self.assertFalse(self._fee_lines(self._run()), "billed once: the next run has nothing of it")

        draft_credit_note(invoice, "wrong amount agreed", user=self.clerk).with_user(self.clerk).action_post()
        self.assertEqual(invoice.payment_state, "reversed")
        again = self._run()
        self.assertEqual(self._fee_lines(again).state, "invoiced", "billed again after the full credit note")
        self.assertAlmostEqual(self._fee_lines(again).move_id.amount_untaxed, 250.0)
        self.assertFalse(self._fee_lines(self._run()), "and again only once")

    def test_cancelled_invoice_gives_the_fee_back(self):
        invoice = self._fee_lines(self._run()).move_id
        invoice.button_draft()
        fee_class = type(self.env["psa.example.fee"])
        with patch.object(fee_class, "_psa_billing_given_back", autospec=True) as given_back:
            invoice.button_cancel()
        (fees, moves), _kwargs = given_back.call_args
        self.assertEqual((fees, moves), (self.fee, invoice), "the source hears which invoice gave it back")
        self.assertEqual(self._fee_lines(self._run()).state, "invoiced")
