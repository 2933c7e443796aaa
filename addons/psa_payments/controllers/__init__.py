from . import portal
from . import stripe_webhook
