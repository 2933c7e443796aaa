from . import stripe_webhook_input
