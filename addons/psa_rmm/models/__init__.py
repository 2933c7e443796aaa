from . import (
    account_move,
    helpdesk_ticket,
    psa_device,
    psa_rmm_charge,
    psa_rmm_delivery,
    psa_rmm_event,
    psa_rmm_integration,
    psa_rmm_site,
    res_partner,
)
