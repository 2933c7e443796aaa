from . import account_analytic_line, psa_approval_rule
