from . import stripe_webhook
