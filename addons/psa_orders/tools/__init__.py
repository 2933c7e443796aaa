from . import offsets, po_rules, scope
