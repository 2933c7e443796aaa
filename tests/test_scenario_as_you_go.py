"""One chain, no touch: time on a ticket's task billed as you go and paid by card, crons only (issue 18).

The people: a technician who logs time on the task of a break-fix order. Nobody else: the admin creates
the configuration (product, tax, the customer billed as you go, its approval rule, its saved card and an
auto-pay mandate charging at posting) and runs the scheduled actions the way the scheduler would
(``ir.cron.method_direct_trigger``), never a button.

The chain, each step with its reason checked, amounts to the cent from the test's own rate and hours:

1. the technician logs 2.5 h (and 0.75 h) on the task, today;
2. the approval cron approves them: "approved automatically: passes <rule>";
3. the as-you-go run cron bills them the same day: one invoice for the customer, 3.25 h x 135.00 = 438.75
   + 10% tax = 482.63, the line saying which time entries it bills;
4. the auto-pay cron charges the card (localstripe) at posting: "Charged 482.63 ...";
5. the payment is reconciled and the invoice paid.

Latency, in cron cycles (one cycle = each of the three hourly crons runs once): with the crons in the
order of the chain, the time is paid in 1 cycle; in the worst order (the charge first, the approval last)
in 3 cycles, i.e. at most 3 hours with the default hourly crons. A rerun of every cron changes nothing.
"""

import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from _jobs import wait_for_jobs
from conftest import create_user, ref, trigger_cron

RATE = 135.0
ORDERED_HOURS = 20
LOGGED = [(2.5, "Printer spooler fixed on FRONT-01"), (0.75, "Follow-up call with the office manager")]
TAX_PERCENT = 10.0

APPROVE = "psa_timesheet_billing.ir_cron_psa_auto_approve"
BILL_AS_YOU_GO = "psa_timesheet_billing.ir_cron_psa_billing_run_as_you_go"
CHARGE = "psa_payments.ir_cron_charge_due_invoices"
CHAIN_ORDER = (APPROVE, BILL_AS_YOU_GO, CHARGE)
WORST_ORDER = tuple(reversed(CHAIN_ORDER))


def cents(amount):
    return round(amount + 1e-9, 2)


@pytest.fixture(scope="module")
def setup(admin, odoo_server, localstripe):
    suffix = uuid.uuid4().hex[:6]
    technician = create_user(admin, odoo_server, "e2e-technician", ["hr_timesheet.group_hr_timesheet_user"])
    admin("hr.employee", "create", {"name": f"E2E Technician {suffix}", "user_id": technician.uid})
    tax_id = admin(
        "account.tax",
        "create",
        {"name": f"E2E as-you-go VAT {TAX_PERCENT}% {suffix}", "amount": TAX_PERCENT, "type_tax_use": "sale"},
    )
    product_id = admin(
        "product.product",
        "create",
        {
            "name": f"Break-fix hour {suffix}",
            "type": "service",
            "invoice_policy": "delivery",
            "service_type": "timesheet",
            "service_tracking": "task_in_project",
            "list_price": RATE,
            "taxes_id": [(6, 0, [tax_id])],
        },
    )
    return {"suffix": suffix, "technician": technician, "product_id": product_id}


def _customer_with_ticket(admin, localstripe, setup, name):
    """A customer billed as you go, its break-fix order (project and task), approval rule and card."""
    customer_id = admin(
        "res.partner",
        "create",
        {
            "name": f"{name} {setup['suffix']}",
            "is_company": True,
            "email": f"it-{uuid.uuid4().hex[:6]}@example.com",
            "psa_billing_cadence": "as_you_go",
        },
    )
    order_id = admin(
        "sale.order",
        "create",
        {
            "partner_id": customer_id,
            "order_line": [(0, 0, {"product_id": setup["product_id"], "product_uom_qty": ORDERED_HOURS})],
        },
    )
    admin("sale.order", "action_confirm", [order_id])
    line = admin(
        "sale.order.line",
        "search_read",
        [("order_id", "=", order_id)],
        fields=["task_id", "project_id", "price_unit"],
    )[0]
    assert line["price_unit"] == RATE
    rule_name = f"{name}: within the ordered hours"
    admin("psa.approval.rule", "create", {"name": rule_name, "kind": "budget", "partner_id": customer_id})
    token_id, stripe_customer = localstripe.save_card(admin, customer_id)
    mandate_id = admin(
        "psa.payment.mandate", "create", {"partner_id": customer_id, "token_id": token_id, "trigger": "posting"}
    )
    order_name = admin("sale.order", "read", [order_id], fields=["name"])[0]["name"]
    return {
        "customer_id": customer_id,
        "order_name": order_name,
        "sale_line_id": line["id"],
        "task_id": line["task_id"][0],
        "project_id": line["project_id"][0],
        "rule_name": rule_name,
        "stripe_customer": stripe_customer,
        "mandate_id": mandate_id,
    }


def _log_time(setup, ticket):
    today = str(date.today())
    return [
        setup["technician"](
            "account.analytic.line",
            "create",
            {
                "name": description,
                "project_id": ticket["project_id"],
                "task_id": ticket["task_id"],
                "unit_amount": hours,
                "date": today,
            },
        )
        for hours, description in LOGGED
    ]


def _invoices(admin, ticket):
    return admin(
        "account.move",
        "search_read",
        [("partner_id", "=", ticket["customer_id"]), ("move_type", "=", "out_invoice")],
        fields=[
            "state",
            "invoice_date",
            "amount_untaxed",
            "amount_tax",
            "amount_total",
            "amount_residual",
            "payment_state",
            "psa_autopay_note",
            "invoice_line_ids",
        ],
    )


def _paid(admin, ticket):
    invoices = _invoices(admin, ticket)
    return len(invoices) == 1 and invoices[0]["payment_state"] in ("paid", "in_payment")


def test_as_you_go_chain_paid_in_one_cycle(admin, localstripe, setup):
    ticket = _customer_with_ticket(admin, localstripe, setup, "Fabrikam Dental")
    hours = sum(hours for hours, _description in LOGGED)
    untaxed = cents(hours * RATE)
    tax = cents(untaxed * TAX_PERCENT / 100)
    total = cents(untaxed + tax)
    assert (untaxed, tax, total) == (438.75, 43.88, 482.63)

    # 1. The technician logs time on the ticket's task: waiting for approval, not delivered yet.
    entry_ids = _log_time(setup, ticket)
    entries = setup["technician"]("account.analytic.line", "read", entry_ids, fields=["psa_approval_state"])
    assert {e["psa_approval_state"] for e in entries} == {"to_approve"}

    # 2. One cycle, the crons in the order of the chain. The approval cron: approved, reason written.
    trigger_cron(admin, APPROVE)
    wait_for_jobs(admin, "root.psa.approval")
    entries = admin(
        "account.analytic.line", "read", entry_ids, fields=["psa_approval_state", "psa_approval_reason", "so_line"]
    )
    assert [e["psa_approval_state"] for e in entries] == ["approved", "approved"]
    for entry in entries:
        # the customer's rule, and any rule of the company that applies to every customer
        assert entry["psa_approval_reason"].startswith("approved automatically: passes ")
        assert ticket["rule_name"] in entry["psa_approval_reason"]
    assert {e["so_line"][0] for e in entries} == {ticket["sale_line_id"]}
    assert _invoices(admin, ticket) == []

    # 3. The as-you-go cron: one run of today, done, one posted invoice, the line explains itself.
    trigger_cron(admin, BILL_AS_YOU_GO)
    today = str(date.today())
    # the run's day is the cron user's today, in that user's time zone (a day ahead of UTC late in the evening)
    cron_day = _cron_today(admin, BILL_AS_YOU_GO)
    lines = admin(
        "psa.billing.run.line",
        "search_read",
        [("partner_id", "=", ticket["customer_id"])],
        fields=["run_id", "state", "kind", "quantity", "amount", "explanation", "move_id"],
    )
    assert [(line["state"], line["kind"]) for line in lines] == [("invoiced", "bill")]
    line = lines[0]
    run = admin("psa.billing.run", "read", [line["run_id"][0]], fields=["cadence", "state", "mode", "period_end"])[0]
    assert (run["cadence"], run["state"], run["mode"], run["period_end"]) == (
        "as_you_go",
        "done",
        "automatic",
        cron_day,
    )
    assert (line["quantity"], line["amount"]) == (hours, untaxed)
    assert line["explanation"].startswith(f"{len(LOGGED)} approved time entries, {hours} h from {today} to {today}")
    assert f"(order {ticket['order_name']}, time up to {cron_day})" in line["explanation"]
    invoices = _invoices(admin, ticket)
    assert len(invoices) == 1
    invoice = invoices[0]
    assert (invoice["state"], invoice["invoice_date"]) == ("posted", cron_day)
    assert (invoice["amount_untaxed"], invoice["amount_tax"], invoice["amount_total"]) == (untaxed, tax, total)
    assert invoice["payment_state"] == "not_paid"
    invoice_lines = admin(
        "account.move.line",
        "read",
        invoice["invoice_line_ids"],
        fields=["quantity", "price_unit", "psa_billing_explanation"],
    )
    assert [(il["quantity"], il["price_unit"]) for il in invoice_lines] == [(hours, RATE)]
    assert invoice_lines[0]["psa_billing_explanation"] == line["explanation"]
    billed = admin("account.analytic.line", "read", entry_ids, fields=["timesheet_invoice_id"])
    assert {b["timesheet_invoice_id"][0] for b in billed} == {invoice["id"]}

    # 4. The auto-pay cron charges the card at posting; 5. paid and reconciled, the reason on the invoice.
    trigger_cron(admin, CHARGE)
    wait_for_jobs(admin, "root.psa.payments")
    invoice = _invoices(admin, ticket)[0]
    assert invoice["payment_state"] in ("paid", "in_payment")
    assert invoice["amount_residual"] == 0.0
    assert invoice["psa_autopay_note"].startswith(f"Charged {total} ")
    assert "attempt 1" in invoice["psa_autopay_note"]
    intents = localstripe.intents(ticket["stripe_customer"])
    assert [(intent["amount"], intent["status"]) for intent in intents] == [(round(total * 100), "succeeded")]
    transactions = admin(
        "payment.transaction",
        "search_read",
        [("partner_id", "=", ticket["customer_id"])],
        fields=["state", "amount", "payment_id"],
    )
    assert [(t["state"], t["amount"]) for t in transactions] == [("done", total)]
    payment = admin("account.payment", "read", [transactions[0]["payment_id"][0]], fields=["is_reconciled", "amount"])[
        0
    ]
    assert (payment["is_reconciled"], payment["amount"]) == (True, total)
    attempts = admin(
        "psa.payment.attempt", "search_read", [("move_id", "=", invoice["id"])], fields=["state", "amount", "number"]
    )
    assert [(a["state"], a["amount"], a["number"]) for a in attempts] == [("done", total, 1)]

    # Latency: paid within the first cycle. A rerun of every cron: no second invoice, no second charge.
    for xmlid in CHAIN_ORDER:
        trigger_cron(admin, xmlid)
        wait_for_jobs(admin, "root.psa")
    assert len(_invoices(admin, ticket)) == 1
    assert len(localstripe.intents(ticket["stripe_customer"])) == 1


def test_as_you_go_chain_worst_order_paid_in_three_cycles(admin, localstripe, setup):
    """The scheduler may run the three hourly crons in any order: in the worst one the time still ends
    paid, three cycles after it was logged (each cycle moves it one step)."""
    ticket = _customer_with_ticket(admin, localstripe, setup, "Northwind Clinic")
    entry_ids = _log_time(setup, ticket)
    total = cents(cents(sum(hours for hours, _d in LOGGED) * RATE) * (1 + TAX_PERCENT / 100))
    steps = []
    cycles = 0
    while not _paid(admin, ticket) and cycles < 5:
        cycles += 1
        for xmlid in WORST_ORDER:
            # one step of the scheduler: the cron and the jobs it enqueued
            trigger_cron(admin, xmlid)
            wait_for_jobs(admin, "root.psa")
        entries = admin("account.analytic.line", "read", entry_ids, fields=["psa_approval_state"])
        invoices = _invoices(admin, ticket)
        steps.append(
            (
                {e["psa_approval_state"] for e in entries},
                [i["state"] for i in invoices],
                [i["payment_state"] for i in invoices],
            )
        )
    assert cycles == 3, steps
    assert steps[0] == ({"approved"}, [], [])
    # billed time is "invoiced" on the entry
    assert steps[1] == ({"invoiced"}, ["posted"], ["not_paid"])
    assert steps[2][1] == ["posted"] and steps[2][2][0] in ("paid", "in_payment")
    invoice = _invoices(admin, ticket)[0]
    assert (invoice["amount_total"], invoice["amount_residual"]) == (total, 0.0)
    intents = localstripe.intents(ticket["stripe_customer"])
    assert [(intent["amount"], intent["status"]) for intent in intents] == [(round(total * 100), "succeeded")]


def _cron_today(admin, xmlid):
    """Today where the scheduled action ``xmlid`` runs: in its user's time zone (Odoo's ``context_today``)."""
    cron = admin("ir.cron", "read", [ref(admin, xmlid)], fields=["user_id"])[0]
    user = admin("res.users", "read", [cron["user_id"][0]], fields=["tz"])[0]
    return str(datetime.now(ZoneInfo(user["tz"] or "UTC")).date())
