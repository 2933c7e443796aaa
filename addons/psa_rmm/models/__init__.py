from . import (
    account_move,
    account_move_line,
    contract_line,
    contract_template_line,
    helpdesk_ticket,
    helpdesk_ticket_team,
    project_project,
    psa_device,
    psa_device_snapshot,
    psa_rmm_charge,
    psa_rmm_delivery,
    psa_rmm_event,
    psa_rmm_integration,
    psa_rmm_site,
    res_partner,
)
from . import psa_billing_run_line
from . import res_config_settings
