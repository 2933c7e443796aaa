from . import test_dashboard_figures
from . import test_dashboard_tour
