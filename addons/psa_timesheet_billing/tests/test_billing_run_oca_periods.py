from datetime import date

from odoo import Command
from odoo.tests import tagged

from .billing_run_common import BillingRunCommon


@tagged("post_install", "-at_install")
class TestBillingRunOcaPeriods(BillingRunCommon):
    """The run bills the periods OCA contract defines for a line, as OCA's own tests expect them, and
    prorates only a period the service starts or ends inside. The lines are those of OCA contract's
    ``test_contract``: 1 x 100.00 with 50% discount, a month, from 2018-01-01."""

    def _line(self, **values):
        agreement = self.env["contract.contract"].create(
            {
                "name": "OCA period agreement",
                "partner_id": self.customer_a.id,
                "line_recurrence": True,
                "contract_line_ids": [
                    Command.create(
                        {
                            "product_id": self.product_fixed.id,
                            "name": "Services from #START# to #END#",
                            "quantity": 1,
                            "uom_id": self.env.ref("uom.product_uom_unit").id,
                            "price_unit": 100.0,
                            "discount": 50,
                            "recurring_rule_type": "monthly",
                            "recurring_interval": 1,
                            "date_start": date(2018, 1, 1),
                            **values,
                        }
                    )
                ],
            }
        )
        return agreement.contract_line_ids

    def _bill(self, line, period_end):
        run = self._new_run(
            partner_ids=[Command.set(self.customer_a.ids)],
            period_end=period_end,
            invoice_date=line.recurring_next_date,
            mode="automatic",
        )
        run.action_confirm()
        run_line = run.line_ids.filtered(lambda run_line: run_line.contract_line_id == line)
        self.assertEqual(run_line.state, "invoiced")
        return run_line, run_line.move_id.invoice_line_ids.filtered(lambda inv_line: inv_line.contract_line_id == line)

    def test_first_invoice_date_inside_the_first_period_bills_it_once(self):
        """OCA test_contract: from 2018-01-01, first invoice on 2018-01-15: 50.00 (not 50 x 45/31)."""
        line = self._line(recurring_next_date=date(2018, 1, 15))
        run_line, invoice_line = self._bill(line, date(2018, 1, 31))
        self.assertAlmostEqual(invoice_line.price_subtotal, 50.0)
        self.assertAlmostEqual(run_line.amount, 50.0)
        self.assertIn("period 2018-01-01 to 2018-02-14", invoice_line.psa_billing_explanation)
        self.assertNotIn("Prorated", invoice_line.psa_billing_explanation)
        self.assertEqual(line.recurring_next_date, date(2018, 2, 15))

    def test_oca_own_invoicing_bills_the_same(self):
        """OCA's own button, with this add-on installed, bills OCA's 50.00 too."""
        line = self._line(recurring_next_date=date(2018, 1, 15))
        line.contract_id.recurring_create_invoice()
        invoice = line.contract_id._get_related_invoices()
        self.assertAlmostEqual(invoice.invoice_line_ids.price_subtotal, 50.0)
        self.assertEqual(line.recurring_next_date, date(2018, 2, 15))

    def test_every_two_months_in_advance(self):
        line = self._line(recurring_interval=2)
        self.assertEqual(line.recurring_next_date, date(2018, 1, 1))
        _run_line, invoice_line = self._bill(line, date(2018, 1, 31))
        self.assertAlmostEqual(invoice_line.price_subtotal, 50.0)
        self.assertIn("period 2018-01-01 to 2018-02-28", invoice_line.psa_billing_explanation)
        self.assertEqual(line.recurring_next_date, date(2018, 3, 1))

    def test_in_arrears_the_day_after(self):
        line = self._line(recurring_invoicing_type="post-paid", recurring_invoicing_offset=1)
        self.assertEqual(line.recurring_next_date, date(2018, 2, 1))
        _run_line, invoice_line = self._bill(line, date(2018, 2, 1))
        self.assertAlmostEqual(invoice_line.price_subtotal, 50.0)
        self.assertIn("period 2018-01-01 to 2018-01-31", invoice_line.psa_billing_explanation)

    def test_service_ending_inside_the_period_is_prorated_and_names_it(self):
        """OCA's case with an end date on 2018-01-15: the period OCA bills stops there; the service ends
        inside January's period, so 15 of its 31 days are billed (OCA itself bills the whole rate)."""
        line = self._line(date_end=date(2018, 1, 15))
        self.assertEqual(line.recurring_next_date, date(2018, 1, 1))
        run_line, invoice_line = self._bill(line, date(2018, 1, 31))
        self.assertAlmostEqual(invoice_line.price_subtotal, 50.0 * 15 / 31, delta=0.01)
        self.assertIn("period 2018-01-01 to 2018-01-15", run_line.explanation)
        self.assertIn(
            "Prorated: the line runs 15 of the period's 31 days (from 2018-01-01 to 2018-01-15 of the period "
            "2018-01-01 to 2018-01-31)",
            invoice_line.psa_billing_explanation,
        )
