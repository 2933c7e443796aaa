from . import payment_provider
from . import payment_transaction
from . import psa_payment_mandate
from . import psa_payment_attempt
from . import account_move
from . import res_config_settings
