from . import po_rules
