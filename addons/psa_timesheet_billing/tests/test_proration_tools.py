from datetime import date, timedelta

from odoo.tests import BaseCase, tagged

from ..tools.proration import RULE_TYPES, full_period, period_step, proration_days


@tagged("post_install", "-at_install")
class TestProrationEveryRecurrence(BaseCase):
    """The share billed is (days covered / days of the period) for every recurrence of OCA contract."""

    def test_period_ending_at_the_agreement_period_end(self):
        cases = {
            # rule, interval, period end: expected period start
            ("daily", 1, date(2026, 10, 30)): date(2026, 10, 30),
            ("daily", 10, date(2026, 10, 30)): date(2026, 10, 21),
            ("weekly", 1, date(2026, 10, 25)): date(2026, 10, 19),
            ("weekly", 2, date(2026, 10, 25)): date(2026, 10, 12),
            ("monthly", 1, date(2026, 11, 15)): date(2026, 10, 16),
            ("monthlylastday", 1, date(2026, 2, 28)): date(2026, 2, 1),
            ("monthlylastday", 2, date(2026, 10, 31)): date(2026, 9, 1),
            ("quarterly", 1, date(2026, 12, 31)): date(2026, 10, 1),
            ("semesterly", 1, date(2027, 3, 31)): date(2026, 10, 1),
            ("yearly", 1, date(2027, 9, 30)): date(2026, 10, 1),
        }
        for (rule, interval, end), start in cases.items():
            with self.subTest(rule=rule, interval=interval):
                self.assertEqual(full_period(date(2026, 1, 1), rule, interval, period_end=end), (start, end))

    def test_change_order_in_arrears_bills_its_days_of_the_period(self):
        cases = [
            ("daily", 10, date(2026, 10, 28), date(2026, 10, 30), (3, 10)),
            ("weekly", 1, date(2026, 10, 21), date(2026, 10, 25), (5, 7)),
            ("monthly", 1, date(2026, 10, 16), date(2026, 10, 31), (16, 31)),
            ("monthlylastday", 1, date(2026, 11, 16), date(2026, 11, 30), (15, 30)),
            ("quarterly", 1, date(2026, 11, 16), date(2026, 12, 31), (46, 92)),
            ("semesterly", 1, date(2026, 11, 16), date(2027, 3, 31), (136, 182)),
            ("yearly", 1, date(2026, 11, 16), date(2027, 9, 30), (319, 365)),
        ]
        for rule, interval, first, last, expected in cases:
            with self.subTest(rule=rule):
                self.assertEqual(proration_days(first, last, rule, interval, period_end=last), expected)

    def test_a_period_longer_than_the_rule_is_billed_once(self):
        # OCA's first period runs up to a later invoice date (OCA contract's test_contract: from
        # 2018-01-01, first invoice 2018-01-15, period to 2018-02-14): one period, billed once
        self.assertEqual(
            proration_days(date(2018, 1, 1), date(2018, 2, 14), "monthly", 1, period_end=date(2018, 2, 14)),
            (31, 31),
        )
        self.assertEqual(
            proration_days(date(2026, 9, 16), date(2026, 10, 31), "monthly", 1, period_end=date(2026, 10, 31)),
            (31, 31),
        )
        self.assertEqual(
            proration_days(date(2026, 8, 16), date(2026, 12, 31), "quarterly", 1, period_end=date(2026, 12, 31)),
            (92, 92),
        )
        self.assertEqual(
            proration_days(date(2026, 10, 27), date(2026, 10, 30), "daily", 1, period_end=date(2026, 10, 30)),
            (1, 1),
        )

    def test_whole_periods_are_not_prorated(self):
        for rule in RULE_TYPES:
            with self.subTest(rule=rule):
                first = date(2026, 10, 1)
                last = first + period_step(rule, 1) - timedelta(days=1)
                covered, full = proration_days(first, last, rule, 1, period_end=last)
                self.assertEqual(covered, full)

    def test_periods_starting_late_in_the_month_are_whole(self):
        # OCA: 31 January + 1 month - 1 day = 27 February; the next period starts on 28 February
        self.assertEqual(
            proration_days(date(2027, 1, 31), date(2027, 2, 27), "monthly", 1, period_end=date(2027, 2, 27)), (28, 28)
        )
        self.assertEqual(
            proration_days(date(2028, 2, 29), date(2029, 2, 27), "yearly", 1, period_end=date(2029, 2, 27)),
            (365, 365),
        )
        covered, full = proration_days(date(2027, 2, 10), date(2027, 2, 27), "monthly", 1, period_end=date(2027, 2, 27))
        self.assertLess(covered, full, "a change order starting inside that period is still prorated")
        self.assertEqual(
            proration_days(date(2027, 1, 31), date(2027, 2, 10), "monthly", 1, period_end=date(2027, 2, 27)), (11, 28)
        )

    def test_scope_decrease_counts_the_period_from_its_first_day(self):
        self.assertEqual(proration_days(date(2026, 11, 1), date(2026, 11, 10), "monthlylastday", 1), (10, 30))
        self.assertEqual(proration_days(date(2026, 10, 19), date(2026, 10, 21), "weekly", 1), (3, 7))
        self.assertEqual(proration_days(date(2027, 1, 1), date(2027, 2, 14), "quarterly", 1), (45, 90))

    def test_unknown_recurrence_is_refused(self):
        with self.assertRaises(ValueError):
            period_step("hourly", 1)
