from . import (
    account_move,
    crm_lead,
    project_milestone,
    project_project,
    project_task,
    psa_customer_po,
    psa_lead_idempotency_key,
    psa_lead_source,
    res_config_settings,
    res_partner,
    sale_order,
    sale_order_line,
)
