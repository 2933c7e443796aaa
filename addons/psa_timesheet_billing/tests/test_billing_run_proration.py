from datetime import date

from odoo import Command
from odoo.tests import TransactionCase, tagged

from ..tools.proration import full_period, proration_days
from .billing_run_common import BillingRunCommon


@tagged("post_install", "-at_install")
class TestProrationTools(TransactionCase):
    def test_calendar_month_started_or_ended_mid_period(self):
        self.assertEqual(full_period(date(2026, 10, 16), "monthlylastday", 1), (date(2026, 10, 1), date(2026, 10, 31)))
        self.assertEqual(proration_days(date(2026, 10, 16), date(2026, 10, 31), "monthlylastday", 1), (16, 31))
        self.assertEqual(proration_days(date(2026, 11, 1), date(2026, 11, 10), "monthlylastday", 1), (10, 30))
        self.assertEqual(proration_days(date(2026, 2, 1), date(2026, 2, 28), "monthlylastday", 1), (28, 28))

    def test_periods_counted_from_the_line_start(self):
        self.assertEqual(proration_days(date(2026, 10, 16), date(2026, 11, 15), "monthly", 1), (31, 31))
        self.assertEqual(proration_days(date(2026, 10, 16), date(2026, 10, 25), "monthly", 1), (10, 31))
        self.assertEqual(proration_days(date(2026, 1, 1), date(2026, 3, 31), "quarterly", 1), (90, 90))


@tagged("post_install", "-at_install")
class TestBillingRunProration(BillingRunCommon):
    """Customer A's agreement bills 2 x 450.00 a calendar month from 1 October. A change order adds
    1 x 310.00 from 16 October; a scope decrease ends the first line on 10 November. Each run bills
    the days each line runs in its period, and the invoice line says so."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        unit = cls.env.ref("uom.product_uom_unit")
        line_vals = {
            "product_id": cls.product_fixed.id,
            "uom_id": unit.id,
            "recurring_rule_type": "monthlylastday",
            "recurring_interval": 1,
            "recurring_invoicing_type": "pre-paid",
        }
        cls.agreement = cls.env["contract.contract"].create(
            {
                "name": "Run prorated agreement",
                "partner_id": cls.customer_a.id,
                "line_recurrence": True,
                "contract_line_ids": [
                    Command.create(
                        {
                            **line_vals,
                            "name": "Managed service",
                            "quantity": 2,
                            "price_unit": 450.0,
                            "date_start": date(2026, 10, 1),
                        }
                    ),
                    Command.create(
                        {
                            **line_vals,
                            "name": "Added by change order",
                            "quantity": 1,
                            "price_unit": 310.0,
                            "date_start": date(2026, 10, 16),
                        }
                    ),
                ],
            }
        )
        cls.base_line, cls.added_line = cls.agreement.contract_line_ids

    def _run(self, period_end, invoice_date):
        run = self._new_run(
            partner_ids=[Command.set(self.customer_a.ids)], period_end=period_end, invoice_date=invoice_date
        )
        run.action_preview()
        run.action_confirm()
        return run

    def _invoice_line(self, run, contract_line):
        return run.line_ids.filtered(
            lambda line: line.contract_line_id == contract_line
        ).move_id.invoice_line_ids.filtered(lambda line: line.name.startswith(contract_line.name))

    def test_change_order_mid_period_and_scope_decrease_are_prorated(self):
        october = self._run(self.PERIOD_END, self.INVOICE_DATE)
        self.assertAlmostEqual(self._invoice_line(october, self.base_line).price_subtotal, 900.0)
        added = self._invoice_line(october, self.added_line)
        self.assertAlmostEqual(added.price_subtotal, 160.0, msg="16 of October's 31 days of 310.00")
        self.assertIn("Prorated: the line runs 16 of the period's 31 days", added.psa_billing_explanation)
        self.assertNotIn("Prorated", self._invoice_line(october, self.base_line).psa_billing_explanation)

        self.base_line.date_end = date(2026, 11, 10)
        november = self._run(date(2026, 11, 30), date(2026, 12, 1))
        base = self._invoice_line(november, self.base_line)
        self.assertAlmostEqual(base.price_subtotal, 300.0, msg="10 of November's 30 days of 2 x 450.00")
        self.assertIn("10 of the period's 30 days", base.psa_billing_explanation)
        self.assertAlmostEqual(self._invoice_line(november, self.added_line).price_subtotal, 310.0)

        rerun = self._new_run(partner_ids=[Command.set(self.customer_a.ids)], period_end=date(2026, 11, 30))
        rerun.action_preview()
        self.assertFalse(rerun.line_ids.filtered(lambda line: line.kind == "bill"), "each period billed once")
