from . import lead_payload, locks, offsets, po_rules, rate_change, scope
