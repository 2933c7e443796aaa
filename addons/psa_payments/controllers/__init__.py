from . import portal
from . import stripe_webhook
from . import statement
