from datetime import date

from odoo.tests import BaseCase, tagged

from ..tools.rate_change import TimeEntry, split_commitment, split_entries


@tagged("post_install", "-at_install")
class TestRateChangeArithmetic(BaseCase):
    def test_only_uninvoiced_time_from_the_date_moves(self):
        entries = [
            TimeEntry("before", date(2026, 11, 30), 4.0, False),
            TimeEntry("on the date", date(2026, 12, 1), 2.0, False),
            TimeEntry("after, invoiced", date(2026, 12, 3), 3.0, True),
            TimeEntry("after", date(2026, 12, 4), 1.5, False),
        ]
        self.assertEqual(
            split_entries(entries, date(2026, 12, 1)), (["on the date", "after"], ["before", "after, invoiced"])
        )

    def test_old_line_keeps_what_its_time_consumed(self):
        self.assertEqual(split_commitment(40.0, 7.0), (7.0, 33.0))

    def test_overrun_keeps_everything_on_the_old_line(self):
        self.assertEqual(split_commitment(10.0, 12.5), (10.0, 0.0))

    def test_nothing_ordered_moves_nothing(self):
        self.assertEqual(split_commitment(0.0, 3.0), (0.0, 0.0))
