from datetime import date

from odoo.tests import BaseCase, tagged

from ..tools import approval_rules as ar


@tagged("post_install", "-at_install")
class TestApprovalRulesPure(BaseCase):
    """The rule evaluation itself, without database: each rule passes and fails with its reason."""

    def _line(self, line_id, hours, day=date(2026, 11, 20), **kw):
        values = {"company_id": 1, "employee_id": 7, "user_id": 70, "description": "Patched servers"}
        values.update(kw)
        return ar.Line(id=line_id, date=day, hours=hours, **values)

    def _rule(self, kind, rule_id=1, **kw):
        return ar.Rule(id=rule_id, kind=kind, name=kind, company_id=1, **kw)

    def test_max_hours_per_day_counts_the_whole_day(self):
        lines = [self._line(1, 5.0), self._line(2, 4.5), self._line(3, 6.0, day=date(2026, 11, 21))]
        facts = ar.Facts(hours_per_day={(7, date(2026, 11, 20)): 9.5, (7, date(2026, 11, 21)): 6.0})
        decisions = ar.evaluate(lines, [self._rule(ar.KIND_MAX_HOURS_DAY, max_hours=8.0)], facts)
        self.assertFalse(decisions[1].approved)
        self.assertFalse(decisions[2].approved)
        self.assertEqual(decisions[1].code, "too_many_hours")
        self.assertEqual(decisions[1].params["hours"], "9.5")
        self.assertEqual(decisions[1].params["max"], "8")
        self.assertTrue(decisions[3].approved)

    def test_budget_is_consumed_oldest_first(self):
        lines = [self._line(2, 5.0, task_id=9), self._line(1, 6.0, day=date(2026, 11, 19), task_id=9)]
        facts = ar.Facts(task_budgets={9: 10.0})
        decisions = ar.evaluate(lines, [self._rule(ar.KIND_BUDGET)], facts)
        self.assertTrue(decisions[1].approved)
        self.assertFalse(decisions[2].approved)
        self.assertEqual(decisions[2].params["remaining"], "4")

    def test_budget_falls_back_to_order_line_and_needs_one(self):
        lines = [self._line(1, 3.0, so_line_id=4), self._line(2, 1.0)]
        facts = ar.Facts(order_line_budgets={4: 3.0})
        decisions = ar.evaluate(lines, [self._rule(ar.KIND_BUDGET)], facts)
        self.assertTrue(decisions[1].approved)
        self.assertEqual(decisions[2].code, "no_budget")

    def test_description_open_period_and_trusted_group(self):
        rules = [
            self._rule(ar.KIND_DESCRIPTION, rule_id=1),
            self._rule(ar.KIND_OPEN_PERIOD, rule_id=2, open_days=10),
            self._rule(ar.KIND_TRUSTED_GROUP, rule_id=3, group_id=5),
        ]
        facts = ar.Facts(today=date(2026, 11, 23), lock_dates={1: date(2026, 10, 31)}, group_users={5: {70}})
        lines = [
            self._line(1, 1.0, description="/"),
            self._line(2, 1.0, day=date(2026, 10, 31)),
            self._line(3, 1.0, day=date(2026, 11, 12)),
            self._line(4, 1.0, user_id=71),
            self._line(5, 1.0),
        ]
        decisions = ar.evaluate(lines, rules, facts)
        self.assertEqual(
            {line_id: decision.code for line_id, decision in decisions.items()},
            {1: "no_description", 2: "closed_period", 3: "too_old", 4: "not_trusted", 5: "passed"},
        )

    def test_scope_and_no_rule(self):
        rules = [
            self._rule(ar.KIND_DESCRIPTION, project_id=3),
            self._rule(ar.KIND_DESCRIPTION, rule_id=2, partner_id=8),
        ]
        lines = [
            self._line(1, 1.0, project_id=3, description=""),
            self._line(2, 1.0, project_id=4, partner_id=8, description=""),
            self._line(3, 1.0, project_id=4, partner_id=9, description=""),
            self._line(4, 1.0, project_id=3, company_id=2, description=""),
        ]
        decisions = ar.evaluate(lines, rules, ar.Facts())
        self.assertEqual(decisions[1].rule_id, 1)
        self.assertEqual(decisions[2].rule_id, 2)
        self.assertIsNone(decisions[3])
        self.assertIsNone(decisions[4])

    def test_failing_line_does_not_consume_budget(self):
        rules = [self._rule(ar.KIND_BUDGET, rule_id=1), self._rule(ar.KIND_DESCRIPTION, rule_id=2)]
        lines = [self._line(1, 8.0, task_id=9, description=""), self._line(2, 8.0, task_id=9)]
        decisions = ar.evaluate(lines, rules, ar.Facts(task_budgets={9: 8.0}))
        self.assertEqual(decisions[1].code, "no_description")
        self.assertTrue(decisions[2].approved)
