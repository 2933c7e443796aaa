from . import approval_rules
from . import billing_keys
from . import billing_run
from . import proration
