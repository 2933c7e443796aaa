"""Why a charge failed, in plain words, and what auto-pay does next (no ORM here).

Providers report a failure code (Stripe: the ``decline_code`` of the error, else its ``code``). Each code maps to
words a person understands and to one of three policies. What we chose, and why:

- ``retry``: the same card may work later (bank declined without a reason, insufficient funds, processing
  error). Retried on the schedule (``psa_payments.retry_days``); the customer gets a pay link after each failure;
  after the last retry the mandate is suspended and the account manager gets an activity.
- ``new_card``: the card itself cannot be charged any more (expired, reported lost or stolen, closed account).
  Retrying the same card is pointless and may look like card testing to the bank: no retry, the mandate is
  suspended at once with the reason, the email asks the customer to save a new card (and offers the pay link),
  the account manager gets an activity to set up the new mandate.
- ``customer_action``: the bank wants the customer present (3-D Secure authentication). An off-session retry
  would fail the same way: no retry, the email asks the customer to pay from the link (authenticating there),
  the mandate stays active because the next invoice may go through.

Unknown codes are treated as ``retry``: the schedule is bounded and ends with a person.
"""

from odoo.tools.translate import LazyTranslate

_lt = LazyTranslate(__name__)

RETRY = "retry"
NEW_CARD = "new_card"
CUSTOMER_ACTION = "customer_action"

AUTHENTICATION_REQUIRED = "authentication_required"

DECLINED = (_lt("The bank declined the charge."), RETRY)
CARD_UNUSABLE = (_lt("The card can no longer be used."), NEW_CARD)

REASONS = {
    "card_declined": DECLINED,
    "generic_decline": DECLINED,
    "do_not_honor": DECLINED,
    "transaction_not_allowed": DECLINED,
    "insufficient_funds": (_lt("The card has insufficient funds."), RETRY),
    "card_velocity_exceeded": (_lt("The card's spending limit is reached."), RETRY),
    "processing_error": (_lt("The provider could not process the charge."), RETRY),
    "try_again_later": (_lt("The bank asked to try again later."), RETRY),
    "expired_card": (_lt("The card has expired."), NEW_CARD),
    "lost_card": (_lt("The card was reported lost."), NEW_CARD),
    "stolen_card": (_lt("The card was reported stolen."), NEW_CARD),
    "pickup_card": CARD_UNUSABLE,
    "restricted_card": CARD_UNUSABLE,
    "incorrect_number": CARD_UNUSABLE,
    "invalid_account": CARD_UNUSABLE,
    "card_not_supported": CARD_UNUSABLE,
    "new_account_information_available": CARD_UNUSABLE,
    AUTHENTICATION_REQUIRED: (_lt("The bank asks the customer to authenticate the payment."), CUSTOMER_ACTION),
    "payment_intent_authentication_failure": (
        _lt("The bank asks the customer to authenticate the payment."),
        CUSTOMER_ACTION,
    ),
}
UNKNOWN = (_lt("The charge failed."), RETRY)


def classify(code):
    """``(words, policy)`` for a provider failure code; ``None`` or an unknown code gives a generic retry."""
    return REASONS.get((code or "").strip().lower(), UNKNOWN)
