from . import project_project, sale_order
