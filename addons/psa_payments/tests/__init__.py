from . import test_stripe_endpoint
from . import test_stripe_webhook_input
