from . import test_order_kinds, test_po_compliance, test_po_rules
