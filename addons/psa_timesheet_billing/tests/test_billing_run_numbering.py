from datetime import date
from unittest.mock import patch

from odoo import Command
from odoo.tests import tagged

from odoo.addons.account.models.sequence_mixin import SequenceMixin
from odoo.addons.psa_timesheet_billing.models.account_move import NUMBERING_MEMO

from .billing_run_common import BillingRunCommon


@tagged("post_install", "-at_install")
class TestBillingRunNumbering(BillingRunCommon):
    """The run numbers its batch from a memo (``account.move._psa_numbering_memo``): the numbers Odoo
    gives, one after the other in the journal, with one lookup of the journal's last number."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customers = cls.customer_a | cls.customer_b
        cls.customers |= cls.env["res.partner"].create(
            [{"name": f"Run Customer {letter}", "is_company": True} for letter in "CDE"]
        )
        for customer in cls.customers:
            order = cls._create_order(customer, [(cls.product_time, 40, 100.0)])
            cls._log_time(order.order_line, cls._create_project(order.order_line), [(date(2026, 10, 7), 2.0)])

    def _manual_invoice(self):
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.customer_a.id,
                "invoice_date": self.INVOICE_DATE,
                "invoice_line_ids": [Command.create({"name": "Manual work", "quantity": 1, "price_unit": 10.0})],
            }
        )
        invoice.action_post()
        return invoice

    def test_run_numbers_follow_the_journal_with_one_lookup(self):
        before = self._manual_invoice()
        real_lookups = []
        original = SequenceMixin._get_last_sequence

        def counted(move, relaxed=False, with_prefix=None):
            if move._name == "account.move" and move.move_type == "out_invoice":
                real_lookups.append(move.id)
            return original(move, relaxed=relaxed, with_prefix=with_prefix)

        run = self._new_run(partner_ids=[Command.set(self.customers.ids)], mode="automatic")
        with patch.object(SequenceMixin, "_get_last_sequence", counted):
            run.action_confirm()
        invoices = run.invoice_ids.sorted("sequence_number")
        self.assertEqual(len(invoices), 5)
        self.assertEqual(set(invoices.mapped("state")), {"posted"})
        self.assertEqual(set(invoices.mapped("sequence_prefix")), {before.sequence_prefix})
        self.assertEqual(
            invoices.mapped("sequence_number"), list(range(before.sequence_number + 1, before.sequence_number + 6))
        )
        # Odoo asks the database once per invoice; the memo once per journal and date (the first invoice)
        self.assertLess(len(set(real_lookups)), len(invoices), "the batch was numbered invoice by invoice")
        self.assertFalse(self.env.cr.precommit.data.get(NUMBERING_MEMO))
        # after the run, Odoo's own numbering goes on from the run's last number
        after = self._manual_invoice()
        self.assertEqual(after.sequence_prefix, before.sequence_prefix)
        self.assertEqual(after.sequence_number, invoices[-1].sequence_number + 1)

    def test_number_written_meanwhile_empties_the_memo(self):
        invoice = self._manual_invoice()
        data = self.env.cr.precommit.data
        data[NUMBERING_MEMO] = {("journal", "date"): "INV/2026/99999"}
        try:
            invoice.button_draft()
            invoice.name = f"{invoice.sequence_prefix}{invoice.sequence_number + 100:05d}"
            self.assertEqual(data[NUMBERING_MEMO], {})
        finally:
            data.pop(NUMBERING_MEMO, None)
