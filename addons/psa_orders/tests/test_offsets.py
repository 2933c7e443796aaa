from datetime import date

from odoo.tests import BaseCase, tagged

from ..tools.offsets import apply_offset, parse_offset


@tagged("post_install", "-at_install")
class TestOffsets(BaseCase):
    def test_offsets(self):
        start = date(2026, 1, 31)
        self.assertEqual(apply_offset(start, "+14 days"), date(2026, 2, 14))
        self.assertEqual(apply_offset(start, "+2 weeks"), date(2026, 2, 14))
        self.assertEqual(apply_offset(start, "+1 month"), date(2026, 2, 28))
        self.assertEqual(apply_offset(start, "3d"), date(2026, 2, 3))

    def test_not_an_offset(self):
        self.assertIsNone(parse_offset("next week"))
        self.assertIsNone(parse_offset("-3 days"))
        self.assertIsNone(apply_offset(None, "+3 days"))
