from . import (
    test_agreements,
    test_change_order_tours,
    test_change_orders,
    test_engagement_history,
    test_engagement_screens,
    test_fixed_price_decrease,
    test_leads_endpoint,
    test_offsets,
    test_order_kinds,
    test_po_compliance,
    test_po_rules,
    test_project_templates,
    test_rate_change,
    test_rate_change_arithmetic,
    test_rights,
    test_scope,
    test_website_form,
)
from . import test_registered_po_search
from . import test_milestone_shares
