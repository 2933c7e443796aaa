from . import test_timesheet_approval
