from odoo.tests import BaseCase, tagged

from ..tools.scope import OpenTask, distribute_decrease


@tagged("post_install", "-at_install")
class TestScopeArithmetic(BaseCase):
    def test_spread_over_tasks_keeping_spent_hours(self):
        tasks = [OpenTask("a", 10.0, 8.0), OpenTask("b", 20.0, 5.0)]
        self.assertEqual(distribute_decrease(12.0, tasks), ({"a": 8.0, "b": 10.0}, 0.0))

    def test_shortfall_when_not_enough_remains(self):
        tasks = [OpenTask("a", 10.0, 12.0), OpenTask("b", 4.0, 0.0)]
        new_allocated, shortfall = distribute_decrease(5.0, tasks)
        self.assertEqual(new_allocated, {"b": 0.0})
        self.assertEqual(shortfall, 1.0)

    def test_nothing_to_remove(self):
        self.assertEqual(distribute_decrease(0.0, [OpenTask("a", 10.0, 0.0)]), ({}, 0.0))
