from . import account_analytic_line, psa_approval_rule
from . import sale_order_line
from . import account_move_line
from . import account_move
from . import project_milestone
from . import psa_prepaid_fund
from . import res_partner
from . import project_project
from . import product_template
from . import sale_order
