from . import test_billing_run, test_billing_run_cron, test_billing_run_tools, test_timesheet_approval
from . import test_billing_run_recurring
from . import test_billing_run_expense
