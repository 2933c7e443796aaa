from . import account_move, project_project, psa_customer_po, res_partner, sale_order, sale_order_line
