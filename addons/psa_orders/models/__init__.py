from . import (
    account_move,
    project_milestone,
    project_project,
    project_task,
    psa_customer_po,
    res_partner,
    sale_order,
    sale_order_line,
)
