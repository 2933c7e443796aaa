from . import billing_run
