"""Lead to cash over XML-RPC, moved forward by crons only.

The people: a website (API key), a salesperson, a sales manager who records the customer's PO, a consultant
who logs time. Nobody from finance: the admin only creates users and configuration and runs the scheduled
actions the way the scheduler would (``ir.cron.method_direct_trigger``).

The story, amounts computed from the test's own rates and hours:

* a 10,000.00 fixed-price rollout (project template: two tasks, milestones 30% at +14 days and 70% at
  +2 months from the start date) and 40 consulting hours at 150.00, started 20 days ago, PO required;
* the consultant logs 7.5 h + 8 h + 4.25 h (described, within the rules) and 9.5 h on one day, refused by the
  customer's "at most 9 h a day" rule with the reason on the entry;
* the auto-approval cron approves 19.75 h; the milestone cron releases the first milestone (deadline passed);
* a change order adds a 1,200.00 security workshop to the same project;
* the monthly billing run (automatic mode) invoices, per order: 19.75 h x 150.00 + 30% x 10,000.00 =
  5,962.50 and 1,200.00, with 10% tax;
* the auto-pay cron charges the saved card (localstripe) on the due date: both invoices paid and reconciled.
"""

import re
import uuid
import xmlrpc.client
from datetime import date, timedelta

import pytest
from _jobs import wait_for_jobs
from conftest import create_user, post_json, trigger_cron, wait_for_billing_runs

RATE = 150.0
ORDERED_HOURS = 40
ROLLOUT_PRICE = 10000.0
FIRST_SHARE = 30.0
WORKSHOP_PRICE = 1200.0
TAX_PERCENT = 10.0
LOGGED = [(7.5, "Mailbox migration batch 1"), (8.0, "Mailbox migration batch 2"), (4.25, "Teams policies")]
REFUSED_HOURS = 9.5
MAX_HOURS_A_DAY = 9.0


def cents(amount):
    return round(amount + 1e-9, 2)


@pytest.fixture(scope="module")
def world(admin, odoo_server, localstripe):
    """Users and configuration the admin sets up once: products, template, tax, rules, lead source."""
    suffix = uuid.uuid4().hex[:6]
    company_id = admin("res.users", "read", [admin.uid], fields=["company_id"])[0]["company_id"][0]
    users = {
        "sales": create_user(
            admin, odoo_server, "e2e-sales", ["sales_team.group_sale_salesman_all_leads", "project.group_project_user"]
        ),
        "manager": create_user(admin, odoo_server, "e2e-sales-manager", ["sales_team.group_sale_manager"]),
        "consultant": create_user(admin, odoo_server, "e2e-consultant", ["hr_timesheet.group_hr_timesheet_user"]),
    }
    admin("hr.employee", "create", {"name": "E2E Consultant", "user_id": users["consultant"].uid})
    tax_id = admin(
        "account.tax",
        "create",
        {"name": f"E2E VAT {TAX_PERCENT}% {suffix}", "amount": TAX_PERCENT, "type_tax_use": "sale"},
    )
    template_id = admin(
        "project.project", "create", {"name": f"M365 rollout template {suffix}", "allow_milestones": True}
    )
    first, second = (
        admin(
            "project.milestone",
            "create",
            {
                "name": name,
                "project_id": template_id,
                "psa_offset": offset,
                "psa_price_share": share,
                "psa_auto_release": True,
            },
        )
        for name, offset, share in (
            ("Design signed off", "+14 days", FIRST_SHARE),
            ("Go-live", "+2 months", 100 - FIRST_SHARE),
        )
    )
    for name, hours, milestone_id in (("Tenant survey", 6, first), ("Cut-over", 10, second)):
        admin(
            "project.task",
            "create",
            {"name": name, "project_id": template_id, "allocated_hours": hours, "milestone_id": milestone_id},
        )
    service = {"type": "service", "taxes_id": [(6, 0, [tax_id])], "project_template_id": template_id}
    products = {
        "rollout": admin(
            "product.product",
            "create",
            {
                **service,
                "name": f"M365 rollout (fixed price) {suffix}",
                "invoice_policy": "delivery",
                "service_type": "milestones",
                "service_tracking": "project_only",
                "list_price": ROLLOUT_PRICE,
            },
        ),
        "hour": admin(
            "product.product",
            "create",
            {
                **service,
                "name": f"Consulting hour {suffix}",
                "invoice_policy": "delivery",
                "service_type": "timesheet",
                "service_tracking": "task_in_project",
                "list_price": RATE,
            },
        ),
        "workshop": admin(
            "product.product",
            "create",
            {
                "type": "service",
                "taxes_id": [(6, 0, [tax_id])],
                "name": f"Security workshop {suffix}",
                "invoice_policy": "order",
                "service_type": "manual",
                "service_tracking": "project_only",
                "list_price": WORKSHOP_PRICE,
            },
        ),
    }
    source_id = admin("psa.lead.source", "create", {"name": f"Website {suffix}"})
    action = admin("psa.lead.source", "action_generate_key", [source_id])
    key = re.search(r"(\S+)$", action["params"]["message"]).group(1)
    admin("ir.config_parameter", "set_param", "psa_timesheet_billing.monthly_run_mode", "automatic")
    return {
        "suffix": suffix,
        "company_id": company_id,
        "users": users,
        "products": products,
        "template_id": template_id,
        "lead_url": f"{odoo_server.url}/psa/leads",
        "lead_key": key,
    }


def test_lead_to_cash(admin, odoo_server, localstripe, world):
    sales, manager, consultant = (world["users"][k] for k in ("sales", "manager", "consultant"))
    products = world["products"]
    today = date.today()
    period_end = today.replace(day=1) - timedelta(days=1)
    start = today - timedelta(days=20)

    # 1. The website posts a lead with its API key.
    email = f"cio-{world['suffix']}@litware.example.com"
    body = f'{{"name": "Lena Lit", "email": "{email}", "company": "Litware Clinics", "message": "M365"}}'.encode()
    status, answer = post_json(world["lead_url"], body, {"Authorization": f"Bearer {world['lead_key']}"})
    assert status == 201, answer
    lead = sales("crm.lead", "read", [answer["id"]], fields=["email_from", "partner_name"])[0]
    assert lead["email_from"] == email

    # 2. The salesperson makes the customer; the sales manager requires a PO and records it.
    customer_id = sales(
        "res.partner", "create", {"name": f"Litware Clinics {world['suffix']}", "is_company": True, "email": email}
    )
    sales("crm.lead", "write", [answer["id"]], {"partner_id": customer_id})
    manager("res.partner", "write", [customer_id], {"psa_po_policy": "always"})
    po_ref = f"PO-{world['suffix']}"
    manager(
        "psa.customer.po",
        "create",
        {"name": po_ref, "partner_id": customer_id, "amount_cap": 50000.0, "date_expiry": str(today + timedelta(90))},
    )

    # 3. Quotation from the lead; confirming without the PO is refused, with it the project is built.
    lines = [
        (0, 0, {"product_id": products["rollout"], "product_uom_qty": 1, "price_unit": ROLLOUT_PRICE}),
        (0, 0, {"product_id": products["hour"], "product_uom_qty": ORDERED_HOURS, "price_unit": RATE}),
    ]
    order_id = sales(
        "sale.order",
        "create",
        {"partner_id": customer_id, "opportunity_id": answer["id"], "psa_start_date": str(start), "order_line": lines},
    )
    with pytest.raises(xmlrpc.client.Fault, match=r"rule: PO always required"):
        sales("sale.order", "action_confirm", [order_id])
    assert sales("sale.order", "read", [order_id], fields=["state"])[0]["state"] in ("draft", "sent")
    sales("sale.order", "write", [order_id], {"client_order_ref": po_ref})
    sales("sale.order", "action_confirm", [order_id])
    order = sales("sale.order", "read", [order_id], fields=["state", "amount_untaxed", "order_line", "project_ids"])[0]
    assert order["state"] == "sale"
    assert order["amount_untaxed"] == cents(ROLLOUT_PRICE + ORDERED_HOURS * RATE)
    assert len(order["project_ids"]) == 1, "one project for the engagement, built from the template"
    project_id = order["project_ids"][0]
    assert project_id != world["template_id"]
    rollout_line, hour_line = sorted(
        sales("sale.order.line", "read", order["order_line"], fields=["product_id", "project_id", "task_id"]),
        key=lambda line: line["product_id"][0] != products["rollout"],
    )
    milestones = sales(
        "project.milestone",
        "search_read",
        [("project_id", "=", project_id)],
        fields=["name", "deadline", "quantity_percentage", "sale_line_id", "is_reached"],
        order="deadline",
    )
    assert [m["name"] for m in milestones] == ["Design signed off", "Go-live"]
    assert milestones[0]["deadline"] == str(start + timedelta(days=14))
    assert [round(m["quantity_percentage"], 2) for m in milestones] == [FIRST_SHARE / 100, 1 - FIRST_SHARE / 100]
    assert {m["sale_line_id"][0] for m in milestones} == {rollout_line["id"]}
    tasks = sales("project.task", "search_read", [("project_id", "=", project_id)], fields=["name", "allocated_hours"])
    assert {t["name"]: t["allocated_hours"] for t in tasks if t["name"] in ("Tenant survey", "Cut-over")} == {
        "Tenant survey": 6.0,
        "Cut-over": 10.0,
    }
    assert hour_line["task_id"], "the consulting hours got their task in the engagement"
    assert hour_line["project_id"][0] == project_id

    # 4. The customer's own approval rule, set up by the admin; the consultant logs time last month.
    admin(
        "psa.approval.rule",
        "create",
        {
            "name": f"Litware: at most {MAX_HOURS_A_DAY} h a day",
            "kind": "max_hours_day",
            "max_hours": MAX_HOURS_A_DAY,
            "partner_id": customer_id,
        },
    )
    admin(
        "psa.approval.rule",
        "create",
        {"name": "Litware: within the ordered hours", "kind": "budget", "partner_id": customer_id},
    )
    entry_ids = []
    for offset, (hours, description) in enumerate(LOGGED):
        entry_ids.append(
            consultant(
                "account.analytic.line",
                "create",
                {
                    "name": description,
                    "project_id": project_id,
                    "task_id": hour_line["task_id"][0],
                    "unit_amount": hours,
                    "date": str(period_end - timedelta(days=offset)),
                },
            )
        )
    refused_id = consultant(
        "account.analytic.line",
        "create",
        {
            "name": "Weekend cut-over rehearsal",
            "project_id": project_id,
            "task_id": hour_line["task_id"][0],
            "unit_amount": REFUSED_HOURS,
            "date": str(period_end - timedelta(days=len(LOGGED))),
        },
    )

    # 5. The crons: hourly auto-approval, daily milestone release.
    trigger_cron(admin, "psa_timesheet_billing.ir_cron_psa_auto_approve")
    wait_for_jobs(admin, "root.psa.approval")
    entries = consultant(
        "account.analytic.line",
        "read",
        [*entry_ids, refused_id],
        fields=["psa_approval_state", "psa_approval_reason", "so_line"],
    )
    assert [e["psa_approval_state"] for e in entries[:-1]] == ["approved"] * len(LOGGED)
    assert {e["so_line"][0] for e in entries} == {hour_line["id"]}
    assert entries[-1]["psa_approval_state"] != "approved"
    assert f"at most {MAX_HOURS_A_DAY} h a day" in (entries[-1]["psa_approval_reason"] or "")
    approved_hours = sum(hours for hours, _description in LOGGED)
    line = sales("sale.order.line", "read", [hour_line["id"]], fields=["qty_delivered"])[0]
    assert line["qty_delivered"] == approved_hours, "only released time is delivered"

    trigger_cron(admin, "psa_timesheet_billing.ir_cron_psa_release_milestones")
    reached = sales(
        "project.milestone",
        "search_read",
        [("project_id", "=", project_id), ("is_reached", "=", True)],
        fields=["name", "psa_release_reason"],
    )
    assert [m["name"] for m in reached] == ["Design signed off"]
    assert "reached automatically" in reached[0]["psa_release_reason"]
    assert sales("sale.order.line", "read", [rollout_line["id"]], fields=["qty_delivered"])[0]["qty_delivered"] == (
        FIRST_SHARE / 100
    )

    # 6. A change order adds a workshop to the same engagement.
    projects_before = admin("project.project", "search_count", [])
    change_id = sales(
        "sale.order",
        "create",
        {
            "partner_id": customer_id,
            "psa_order_kind": "change_increase",
            "psa_engagement_project_id": project_id,
            "client_order_ref": po_ref,
            "order_line": [
                (0, 0, {"product_id": products["workshop"], "product_uom_qty": 1, "price_unit": WORKSHOP_PRICE})
            ],
        },
    )
    sales("sale.order", "action_confirm", [change_id])
    change_line = sales("sale.order.line", "search_read", [("order_id", "=", change_id)], fields=["project_id"])[0]
    assert change_line["project_id"][0] == project_id
    assert admin("project.project", "search_count", []) == projects_before

    # The month closes: the run bills up to last month's end, and only what happened by then (issue 5).
    # The test cannot move the server's clock, so it moves the two events of "this month" into the closed
    # month instead (milestone reached, orders confirmed by then), like the time entries above.
    admin("project.milestone", "write", [m["id"] for m in reached], {"reached_date": str(period_end)})
    admin("sale.order", "write", [order_id, change_id], {"date_order": f"{period_end} 12:00:00"})

    # 7. The saved card and its auto-pay mandate (set up once, as a customer would through the portal).
    token_id, stripe_customer = localstripe.save_card(admin, customer_id)
    admin("psa.payment.mandate", "create", {"partner_id": customer_id, "token_id": token_id})

    # 8. The monthly billing run (automatic mode) and its worker: invoiced and posted, one invoice per order.
    trigger_cron(admin, "psa_timesheet_billing.ir_cron_psa_billing_run_monthly")
    trigger_cron(admin, "psa_timesheet_billing.ir_cron_psa_billing_run_worker")
    domain = [("period_end", "=", str(period_end)), ("company_id", "=", world["company_id"])]
    wait_for_billing_runs(admin, domain)
    runs = admin("psa.billing.run", "search_read", domain, fields=["state", "mode"])
    assert [(r["state"], r["mode"]) for r in runs] == [("done", "automatic")]
    expected = {
        order_id: cents(approved_hours * RATE) + cents(FIRST_SHARE / 100 * ROLLOUT_PRICE),
        change_id: cents(WORKSHOP_PRICE),
    }
    invoices = admin(
        "account.move",
        "search_read",
        [("partner_id", "=", customer_id), ("move_type", "=", "out_invoice")],
        fields=["state", "amount_untaxed", "amount_tax", "amount_total", "invoice_origin", "line_ids"],
    )
    assert len(invoices) == 2
    origins = {order_id: sales("sale.order", "read", [order_id], fields=["name"])[0]["name"] for order_id in expected}
    by_order = {order: next(i for i in invoices if i["invoice_origin"] == name) for order, name in origins.items()}
    for order, untaxed in expected.items():
        invoice = by_order[order]
        assert invoice["state"] == "posted"
        assert invoice["amount_untaxed"] == untaxed
        assert invoice["amount_tax"] == cents(untaxed * TAX_PERCENT / 100)
        assert invoice["amount_total"] == cents(untaxed * (1 + TAX_PERCENT / 100))
    # every billed amount says where it comes from
    explanations = {
        line["sale_line_id"][0]: line["explanation"]
        for line in admin(
            "psa.billing.run.line",
            "search_read",
            [("run_id", "=", runs[0]["id"]), ("order_id", "in", list(expected)), ("kind", "=", "bill")],
            fields=["sale_line_id", "explanation"],
        )
    }
    assert f"{len(LOGGED)} approved time entries, {approved_hours} h" in explanations[hour_line["id"]]
    assert "Design signed off" in explanations[rollout_line["id"]]
    refused = consultant("account.analytic.line", "read", [refused_id], fields=["timesheet_invoice_id"])[0]
    assert not refused["timesheet_invoice_id"], "refused time is never billed"

    # 9. The auto-pay cron charges the saved card on the due date: paid and reconciled.
    trigger_cron(admin, "psa_payments.ir_cron_charge_due_invoices")
    wait_for_jobs(admin, "root.psa.payments")
    paid = admin(
        "account.move",
        "read",
        [i["id"] for i in invoices],
        fields=["payment_state", "amount_residual", "amount_total"],
    )
    assert {p["payment_state"] for p in paid} <= {"paid", "in_payment"}
    assert [p["amount_residual"] for p in paid] == [0.0, 0.0]
    intents = localstripe.intents(stripe_customer)
    assert sorted(intent["amount"] for intent in intents) == sorted(round(p["amount_total"] * 100) for p in paid)
    assert {intent["status"] for intent in intents} == {"succeeded"}
    transactions = admin(
        "payment.transaction",
        "search_read",
        [("partner_id", "=", customer_id)],
        fields=["state", "amount", "payment_id"],
    )
    assert sorted(t["amount"] for t in transactions) == sorted(p["amount_total"] for p in paid)
    assert {t["state"] for t in transactions} == {"done"}
    payments = admin("account.payment", "read", [t["payment_id"][0] for t in transactions], fields=["is_reconciled"])
    assert all(p["is_reconciled"] for p in payments)
    # A rerun of every cron changes nothing: no second invoice, no second charge.
    for cron in (
        "psa_timesheet_billing.ir_cron_psa_billing_run_monthly",
        "psa_timesheet_billing.ir_cron_psa_billing_run_worker",
        "psa_payments.ir_cron_charge_due_invoices",
    ):
        trigger_cron(admin, cron)
    wait_for_billing_runs(admin, domain)
    wait_for_jobs(admin, "root.psa")
    assert (
        admin("account.move", "search_count", [("partner_id", "=", customer_id), ("move_type", "=", "out_invoice")])
        == 2
    )
    assert len(localstripe.intents(stripe_customer)) == 2
