from . import lead_payload, offsets, po_rules, scope
