from . import test_stripe_endpoint
from . import test_stripe_webhook_input
from . import test_autopay_tools
from . import test_mandate
from . import test_charge
from . import test_failures
from . import test_invoice_buttons
from . import test_portal
