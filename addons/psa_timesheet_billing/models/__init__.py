from . import (
    account_analytic_line,
    account_move,
    account_move_line,
    account_move_send,
    contract_contract,
    psa_billing_key,
    psa_billing_run,
    psa_billing_run_line,
    res_config_settings,
    res_partner,
)
