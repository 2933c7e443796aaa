from . import autopay
from . import stripe_webhook_input
from . import reminders
