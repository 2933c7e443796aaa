from odoo.tests import BaseCase, tagged

from ..tools import reminders


@tagged("post_install", "-at_install")
class TestReminderTools(BaseCase):
    """Pure reminder rules: the schedule as typed in the settings, the level reached, the level to send."""

    def test_parse_level_days(self):
        self.assertEqual(reminders.parse_level_days("3, 10,30"), (3, 10, 30))
        self.assertEqual(reminders.parse_level_days(""), ())
        self.assertEqual(reminders.parse_level_days(None), ())
        for bad in ("10,3", "3,3", "0,5", "-1", "three"):
            with self.assertRaises(ValueError, msg=bad):
                reminders.parse_level_days(bad)

    def test_level_reached_and_new_level(self):
        days = (3, 10, 30)
        self.assertEqual(reminders.level_reached(2, days), 0)
        self.assertEqual(reminders.level_reached(3, days), 1)
        self.assertEqual(reminders.level_reached(29, days), 2)
        self.assertEqual(reminders.level_reached(400, days), 3)
        self.assertEqual(reminders.new_level(12, days, 0), 2, "a missed run sends the level reached")
        self.assertEqual(reminders.new_level(12, days, 2), 0, "already sent")
        self.assertEqual(reminders.new_level(30, days, 2), 3)
