from . import test_change_orders, test_order_kinds, test_po_compliance, test_po_rules, test_scope
