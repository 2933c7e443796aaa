from . import (
    test_device_billing,
    test_device_register,
    test_dormant_tickets,
    test_first_email,
    test_rmm_alerts,
    test_rmm_endpoint,
    test_rmm_tools,
)
from . import test_billing_run_charges
from . import test_portal
from . import test_service_desk_screens
from . import test_portal_tours
from . import test_rmm_delivery_jobs
