from . import lead_payload, offsets, po_rules, rate_change, scope
