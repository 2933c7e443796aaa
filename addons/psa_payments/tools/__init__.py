from . import autopay
from . import stripe_webhook_input
