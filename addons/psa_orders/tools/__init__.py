from . import po_rules, scope
