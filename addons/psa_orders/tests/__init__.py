from . import (
    test_agreements,
    test_change_orders,
    test_engagement_history,
    test_leads_endpoint,
    test_offsets,
    test_order_kinds,
    test_po_compliance,
    test_po_rules,
    test_project_templates,
    test_scope,
)
