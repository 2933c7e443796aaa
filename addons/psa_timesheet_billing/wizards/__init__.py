from . import psa_timesheet_reject
