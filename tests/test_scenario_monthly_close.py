"""The month's close: the monthly cron's company-wide run must not be replaced by a run for one customer.

Runs after the lead-to-cash scenario (file order), whose monthly run it leaves alone: it works in a company
of its own. A finance user bills one customer early with the run's default period (last month); the monthly
cron then has to create the company's run for everybody else.
"""

import uuid
from datetime import date, timedelta

import pytest
from conftest import trigger_cron


def test_a_run_for_one_customer_does_not_replace_the_company_run(admin):
    suffix = uuid.uuid4().hex[:6]
    period_end = date.today().replace(day=1) - timedelta(days=1)
    company_id = admin("res.company", "create", {"name": f"Month close entity {suffix}"})
    control_id = admin("res.company", "create", {"name": f"Month close control {suffix}"})
    customer_id = admin("res.partner", "create", {"name": f"Early customer {suffix}", "is_company": True})
    admin(
        "psa.billing.run",
        "create",
        {
            "company_id": company_id,
            "company_ids": [(6, 0, [company_id])],
            "partner_ids": [(6, 0, [customer_id])],
            "period_end": str(period_end),
        },
    )
    trigger_cron(admin, "psa_timesheet_billing.ir_cron_psa_billing_run_monthly")
    control_runs = admin(
        "psa.billing.run",
        "search_count",
        [("company_id", "=", control_id), ("period_end", "=", str(period_end)), ("partner_ids", "=", False)],
    )
    if control_runs != 1:  # not the finding (pytest.fail is no AssertionError): the cron itself is broken
        pytest.fail(f"a company without any run got {control_runs} monthly run(s), expected 1")
    company_runs = admin(
        "psa.billing.run",
        "search_read",
        [("company_id", "=", company_id), ("period_end", "=", str(period_end)), ("partner_ids", "=", False)],
        fields=["state"],
    )
    # the finding: this one is not made
    assert len(company_runs) == 1, "the monthly cron made the company's run for every customer"
