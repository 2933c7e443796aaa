from datetime import date

from odoo import Command
from odoo.tests import tagged

from .billing_run_common import BillingRunCommon

# rule: (interval, in advance (start, next invoice date, days billed, days of the period), in arrears (same))
# A change order adds a line to customer A's agreement in the middle of a period. Billed in advance, it
# starts in the period already billed and goes with the next one: OCA makes that one (longer) first period,
# billed once, in full, as OCA does; billed in arrears, it ends with its period and bills its days of it.
CASES = {
    "daily": (10, (date(2026, 10, 17), date(2026, 10, 21), 10, 10), (date(2026, 10, 28), date(2026, 10, 31), 3, 10)),
    "weekly": (1, (date(2026, 10, 14), date(2026, 10, 19), 7, 7), (date(2026, 10, 21), date(2026, 10, 26), 5, 7)),
    "monthly": (1, (date(2026, 9, 16), date(2026, 10, 1), 31, 31), (date(2026, 10, 16), date(2026, 11, 1), 16, 31)),
    "monthlylastday": (
        1,
        (date(2026, 9, 16), date(2026, 10, 1), 31, 31),
        (date(2026, 10, 16), date(2026, 10, 31), 16, 31),
    ),
    "quarterly": (1, (date(2026, 8, 16), date(2026, 10, 1), 92, 92), (date(2026, 11, 16), date(2027, 1, 1), 46, 92)),
    "semesterly": (
        1,
        (date(2026, 8, 16), date(2026, 10, 1), 182, 182),
        (date(2026, 11, 16), date(2027, 4, 1), 136, 182),
    ),
    "yearly": (1, (date(2026, 8, 16), date(2026, 10, 1), 365, 365), (date(2026, 11, 16), date(2027, 10, 1), 319, 365)),
}


@tagged("post_install", "-at_install")
class TestBillingRunProrationRecurrences(BillingRunCommon):
    """For every recurrence of OCA contract, a change-order line starting inside a period bills
    (days covered / days of the period) of its rate, in advance and in arrears, and says so. The
    rate of each line is 10.00 a day of its period, so the amount is 10.00 a day billed."""

    def _agreement(self, rule, interval, invoicing, start, next_date, days_in_period):
        name = f"{rule} change order {invoicing}"
        agreement = self.env["contract.contract"].create(
            {
                "name": name,
                "partner_id": self.customer_a.id,
                "line_recurrence": True,
                "contract_line_ids": [
                    Command.create(
                        {
                            "product_id": self.product_fixed.id,
                            "name": name,
                            "quantity": 1,
                            "uom_id": self.env.ref("uom.product_uom_unit").id,
                            "price_unit": 10.0 * days_in_period,
                            "recurring_rule_type": rule,
                            "recurring_interval": interval,
                            "recurring_invoicing_type": invoicing,
                            "date_start": start,
                            "recurring_next_date": next_date,
                        }
                    )
                ],
            }
        )
        return agreement.contract_line_ids

    def _check_recurrence(self, rule):
        interval, advance, arrears = CASES[rule]
        lines = {}
        for invoicing, (start, next_date, _covered, full) in (("pre-paid", advance), ("post-paid", arrears)):
            lines[invoicing] = self._agreement(rule, interval, invoicing, start, next_date, full)
        run = self._new_run(
            partner_ids=[Command.set(self.customer_a.ids)], period_end=max(advance[1], arrears[1]), mode="automatic"
        )
        run.action_confirm()
        for invoicing, (_start, next_date, covered, full) in (("pre-paid", advance), ("post-paid", arrears)):
            with self.subTest(rule=rule, invoicing=invoicing):
                run_line = run.line_ids.filtered(lambda line, c=lines[invoicing]: line.contract_line_id == c)
                self.assertEqual(run_line.state, "invoiced")
                invoice_line = run_line.move_id.invoice_line_ids.filtered(
                    lambda line, c=lines[invoicing]: line.contract_line_id == c
                )
                self.assertAlmostEqual(invoice_line.price_subtotal, 10.0 * covered)
                self.assertAlmostEqual(run_line.amount, 10.0 * covered)
                first, last, _next = lines[invoicing]._get_period_to_invoice(False, next_date)
                self.assertIn(f"period {first} to {last}", invoice_line.psa_billing_explanation)
                if covered == full:
                    self.assertNotIn("Prorated", invoice_line.psa_billing_explanation)
                else:
                    self.assertIn(
                        f"Prorated: the line runs {covered} of the period's {full} days",
                        invoice_line.psa_billing_explanation,
                    )

    def test_daily(self):
        self._check_recurrence("daily")

    def test_weekly(self):
        self._check_recurrence("weekly")

    def test_monthly(self):
        self._check_recurrence("monthly")

    def test_monthly_last_day(self):
        self._check_recurrence("monthlylastday")

    def test_quarterly(self):
        self._check_recurrence("quarterly")

    def test_semesterly(self):
        self._check_recurrence("semesterly")

    def test_yearly(self):
        self._check_recurrence("yearly")

    def test_whole_period_of_every_recurrence_is_not_prorated(self):
        for rule, (interval, (_start, period_start, _covered, full), _arrears) in CASES.items():
            with self.subTest(rule=rule):
                # the line starts with its period (billed in advance): nothing to prorate
                line = self._agreement(rule, interval, "pre-paid", period_start, period_start, full)
                run = self._new_run(partner_ids=[Command.set(self.customer_a.ids)], period_end=period_start)
                run.action_preview()
                run_line = run.line_ids.filtered(lambda rl, c=line: rl.contract_line_id == c)
                self.assertNotIn("Prorated", run_line.explanation)
                self.assertAlmostEqual(run_line.amount, line.price_unit)
