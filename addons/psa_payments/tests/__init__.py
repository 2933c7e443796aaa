from . import test_stripe_endpoint
