from . import test_approval_rules_unit, test_auto_approval, test_timesheet_approval
from . import test_time_release
from . import test_milestone_release
from . import test_prepaid_fund
from . import test_reject_wizard
