from datetime import date

from odoo.tests import BaseCase, tagged

from ..tools import po_rules
from ..tools.po_rules import RegisteredPO


@tagged("post_install", "-at_install")
class TestPoRules(BaseCase):
    """The pure rule evaluation, without database."""

    def test_never_accepts_anything(self):
        self.assertIsNone(po_rules.po_violation("never", 0.0, 1e9, [], {}, date(2026, 1, 1)))

    def test_always_requires_a_reference(self):
        self.assertEqual(po_rules.po_violation("always", 0.0, 1.0, [], {}, None), (po_rules.RULE_REQUIRED, {}))
        self.assertIsNone(po_rules.po_violation("always", 0.0, 1.0, ["PO-1"], {}, None))

    def test_above_an_amount(self):
        self.assertIsNone(po_rules.po_violation("above", 1000.0, 1000.0, [], {}, None))
        rule, details = po_rules.po_violation("above", 1000.0, 1000.01, [], {}, None)
        self.assertEqual((rule, details["threshold"]), (po_rules.RULE_REQUIRED_ABOVE, 1000.0))

    def test_expiry_date(self):
        registered = {"PO-1": RegisteredPO("PO-1", 0.0, date(2026, 3, 31), 0.0)}
        self.assertIsNone(po_rules.po_violation("always", 0.0, 5.0, ["PO-1"], registered, date(2026, 3, 31)))
        rule, details = po_rules.po_violation("always", 0.0, 5.0, ["PO-1"], registered, date(2026, 4, 1))
        self.assertEqual((rule, details["reference"]), (po_rules.RULE_EXPIRED, "PO-1"))

    def test_value_cap(self):
        registered = {"PO-1": RegisteredPO("PO-1", 1000.0, None, 700.0)}
        # Exactly filling the PO is allowed, despite float noise.
        self.assertIsNone(po_rules.po_violation("never", 0.0, 300.0000001, ["PO-1"], registered, None))
        rule, details = po_rules.po_violation("never", 0.0, 300.01, ["PO-1"], registered, None)
        self.assertEqual(rule, po_rules.RULE_CAP)
        self.assertAlmostEqual(details["remaining"], 300.0)

    def test_unregistered_reference_has_no_cap(self):
        registered = {"PO-1": RegisteredPO("PO-1", 10.0, None, 10.0)}
        self.assertIsNone(po_rules.po_violation("always", 0.0, 50.0, ["PO-2"], registered, None))

    def test_split_references(self):
        self.assertEqual(po_rules.split_references(" PO-1, PO-2 ,,"), ["PO-1", "PO-2"])
        self.assertEqual(po_rules.split_references(False), [])
