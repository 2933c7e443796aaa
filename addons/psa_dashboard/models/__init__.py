from . import psa_dashboard_billed
from . import psa_dashboard_prepaid
from . import psa_dashboard_receivable
from . import psa_dashboard_service
from . import psa_dashboard_wip
