"""Every public method of the PSA add-ons answers XML-RPC with a value it can carry.

The suite's public methods are read from the add-ons' source: the buttons (``action_*``, ``button_*``) and
the methods for integrators, of every model the add-ons define or extend. Each one has a call below, made over
XML-RPC as the admin on records of this test's own, in a state where it does its work; a method that
answered None would come back as the fault "cannot marshal None" (although its work would be saved). A
public method added without a call here fails ``test_every_public_method_has_a_call``.
"""

import ast
import json
import uuid
from datetime import date
from pathlib import Path

import pytest
from _jobs import wait_for_jobs
from conftest import post_json, rmm_headers, wait_for_billing_run

ADDONS = Path(__file__).resolve().parents[1] / "addons"
# Public methods of Odoo or OCA the add-ons override for their own reasons, not buttons: ORM and mail hooks.
NOT_BUTTONS = {"create", "write", "unlink", "copy", "default_get", "init", "message_new", "create_contract_line"}
NOT_BUTTONS |= {"close_team_inactive_tickets"}  # OCA helpdesk_ticket_close_inactive's cron method
NOT_BUTTONS |= {"action_send_mail"}  # the mail composer's Send, guarded for payment links (called by the composer)
NOT_BUTTON_PREFIXES = ("cron_",)  # scheduled actions' methods (OCA contract's cron_recurring_create_invoice)
SKIPPED_DECORATORS = ("api.constrains", "api.depends", "api.onchange", "api.ondelete", "api.autovacuum")


def _model_name(cls):
    for statement in cls.body:
        if isinstance(statement, ast.Assign) and getattr(statement.targets[0], "id", None) == "_name":
            return ast.literal_eval(statement.value)
    for statement in cls.body:
        if isinstance(statement, ast.Assign) and getattr(statement.targets[0], "id", None) == "_inherit":
            value = ast.literal_eval(statement.value)
            return value if isinstance(value, str) else value[0]
    return None


def suite_public_methods():
    """{(model, method)} of every public method the add-ons' models and wizards define."""
    found = set()
    for path in sorted([*ADDONS.glob("*/models/*.py"), *ADDONS.glob("*/wizards/*.py")]):
        for cls in ast.parse(path.read_text(encoding="utf-8")).body:
            if not isinstance(cls, ast.ClassDef) or not (model := _model_name(cls)):
                continue
            for function in cls.body:
                if not isinstance(function, ast.FunctionDef) or function.name.startswith("_"):
                    continue
                decorators = [ast.unparse(d) for d in function.decorator_list]
                if function.name in NOT_BUTTONS or function.name.startswith(NOT_BUTTON_PREFIXES):
                    continue
                if any(d.startswith(SKIPPED_DECORATORS) for d in decorators):
                    continue
                found.add((model, function.name))
    return found


@pytest.fixture(scope="module")
def answers(admin, odoo_server, localstripe):
    """Call every public method once, in an order where each does its work; {(model, method): answer}."""
    got = {}

    def call(model, method, *args, **kwargs):
        answer = admin(model, method, *args, **kwargs)
        got.setdefault((model, method), answer)
        return answer

    suffix = uuid.uuid4().hex[:6]
    today = str(date.today())
    customer = admin(
        "res.partner", "create", {"name": f"Buttons Customer {suffix}", "is_company": True, "email": "b@b.example"}
    )
    hour = admin(
        "product.product",
        "create",
        {
            "name": f"Buttons hour {suffix}",
            "type": "service",
            "invoice_policy": "delivery",
            "service_type": "timesheet",
            "service_tracking": "task_in_project",
            "list_price": 100.0,
            "taxes_id": [(5, 0, 0)],
        },
    )
    # psa_orders
    order = admin(
        "sale.order",
        "create",
        {"partner_id": customer, "order_line": [(0, 0, {"product_id": hour, "product_uom_qty": 20})]},
    )
    call("sale.order", "action_confirm", [order])
    call("sale.order", "action_create_contract", [order])
    read = admin("sale.order", "read", [order], fields=["project_ids", "order_line"])[0]
    project = read["project_ids"][0]
    task = admin("sale.order.line", "read", read["order_line"], fields=["task_id"])[0]["task_id"][0]
    call("project.project", "action_psa_new_change_order", [project])
    call("project.project", "action_psa_view_change_orders", [project])
    call("project.project", "action_psa_view_profitability", [project])
    call("res.partner", "action_psa_view_customer_pos", [customer])
    source = admin("psa.lead.source", "create", {"name": f"Buttons website {suffix}"})
    call("psa.lead.source", "generate_api_key", [source])
    call("psa.lead.source", "action_generate_key", [source])
    # psa_timesheet_billing: time
    if not admin("hr.employee", "search", [("user_id", "=", admin.uid)], limit=1):
        admin("hr.employee", "create", {"name": "Buttons Admin", "user_id": admin.uid})
    entries = [
        admin(
            "account.analytic.line",
            "create",
            {"name": f"work {n}", "project_id": project, "task_id": task, "unit_amount": 2.0, "date": today},
        )
        for n in range(5)
    ]
    call("account.analytic.line", "action_psa_approve", entries[:2])
    call("account.analytic.line", "action_psa_reject", [entries[2]], "not billable")
    call("account.analytic.line", "action_psa_reset", [entries[2]])
    call("account.analytic.line", "action_psa_check_rules", [entries[2]])
    call("account.analytic.line", "action_psa_approve_selection", [entries[4]])
    wizard = admin("psa.timesheet.reject", "create", {"line_ids": [(6, 0, [entries[3]])], "reason": "duplicate"})
    call("psa.timesheet.reject", "action_reject", [wizard])
    # billing run
    run = admin(
        "psa.billing.run", "create", {"period_end": today, "invoice_date": today, "partner_ids": [(6, 0, [customer])]}
    )
    call("psa.billing.run", "action_preview", [run])
    call("psa.billing.run", "action_check_preview", [run])
    call("psa.billing.run", "action_reset_to_draft", [run])
    admin("psa.billing.run", "action_preview", [run])
    call("psa.billing.run", "action_confirm", [run])
    invoice = wait_for_billing_run(admin, run)["invoice_ids"][0]
    call("psa.billing.run", "action_view_invoices", [run])
    call("psa.billing.run", "action_psa_view_jobs", [run])
    # a run that ended with failures (none left to bill here): "Retry Failed Batches" queues what failed again
    admin("psa.billing.run", "write", [run], {"state": "failed"})
    call("psa.billing.run", "action_psa_retry_failed_batches", [run])
    assert wait_for_billing_run(admin, run)["state"] == "done"
    invoice = admin("psa.billing.run", "read", [run], fields=["invoice_ids"])[0]["invoice_ids"][0]
    # the Action menu's automation: release due milestones, bill the selected customers now
    admin("project.project", "write", [project], {"allow_milestones": True})
    milestone = admin(
        "project.milestone",
        "create",
        {"name": f"Buttons milestone {suffix}", "project_id": project, "deadline": today, "psa_auto_release": True},
    )
    call("project.milestone", "action_psa_release_due", [milestone])
    call("res.partner", "action_psa_bill_now", [customer])
    settings = admin("res.config.settings", "create", {})
    call("res.config.settings", "action_psa_open_stripe_provider", [settings])
    # psa_payments
    token_customer = localstripe.api("POST", "customers", {"name": f"Buttons {suffix}"})["id"]
    card = {"card[number]": "4242424242424242", "card[exp_month]": 12, "card[exp_year]": 2030, "card[cvc]": "123"}
    method = localstripe.api("POST", "payment_methods", {"type": "card", **card})["id"]
    localstripe.api("POST", f"payment_methods/{method}/attach", {"customer": token_customer})
    saved = call("psa.payment.mandate", "register_stripe_payment_method", customer, token_customer, method)
    mandate = saved["mandate_id"]
    call("account.move", "action_psa_send_payment_link", [invoice])
    call("account.move", "action_psa_send_payment_link_now", [invoice])
    call("account.move", "action_psa_charge_now", [invoice])
    call("account.move", "action_psa_charge_selection", [invoice])
    call("psa.payment.mandate", "action_suspend", [mandate])
    call("psa.payment.mandate", "action_activate", [mandate])
    call("psa.payment.mandate", "action_revoke", [mandate])
    manual = admin(
        "account.move",
        "create",
        {
            "move_type": "out_invoice",
            "partner_id": customer,
            "invoice_line_ids": [(0, 0, {"name": "Buttons extra", "quantity": 1, "price_unit": 10.0, "tax_ids": []})],
        },
    )
    admin("account.move", "action_post", [manual])
    call("account.move", "button_draft", [manual])
    call("account.move", "button_cancel", [manual])
    # prepaid funds
    fund = admin(
        "psa.prepaid.fund",
        "create",
        {
            "name": f"Buttons fund {suffix}",
            "partner_id": customer,
            "initial_quantity": 10.0,
            "hourly_rate": 100.0,
            "topup_enabled": True,
            "topup_quantity": 10.0,
            "topup_product_id": hour,
        },
    )
    call("psa.prepaid.fund", "action_psa_raise_topup", [fund])
    call("psa.prepaid.fund", "action_psa_view_topup_orders", [fund])
    call("psa.prepaid.fund", "action_psa_settle", [fund])
    # psa_rmm
    integration = admin("psa.rmm.integration", "create", {"name": f"Buttons RMM {suffix}", "kind": "native"})
    call("psa.rmm.integration", "action_regenerate_secret", [integration])
    call("psa.rmm.integration", "action_view_events", [integration])
    call("res.partner", "action_psa_view_devices", [customer])
    secret = admin("psa.rmm.integration", "read", [integration], fields=["secret"])[0]["secret"]
    site = f"buttons-{suffix}"
    device = {"id": f"dev-{suffix}", "name": "BTN-1", "type": "server"}
    event = {"id": f"evt-{suffix}", "type": "device.upserted", "occurred_at": f"{today}T08:00:00Z", "site_id": site}
    body = json.dumps({"events": [{**event, "device": device}]}).encode()
    status, answer = post_json(f"{odoo_server.url}/psa/rmm/{integration}/events", body, rmm_headers(secret, body))
    assert status == 200 and answer["results"][0]["status"] == "received", answer
    wait_for_jobs(admin, "root.psa.rmm")
    admin("psa.rmm.site", "create", {"integration_id": integration, "rmm_site_id": site, "partner_id": customer})
    parked = admin("psa.rmm.event", "search", [("integration_id", "=", integration), ("state", "=", "parked")])
    assert len(parked) == 1, "the job parked the event of the unmapped site"
    call("psa.rmm.event", "action_reprocess", parked)
    call("psa.rmm.delivery", "action_retry", [answer["delivery"]])
    wait_for_jobs(admin, "root.psa.rmm")
    devices = admin("psa.device", "search", [("partner_id", "=", customer), ("name", "=", "BTN-1")])
    assert len(devices) == 1, devices
    call("psa.device", "action_view_tickets", devices)
    # the reporting models' grouped read (psa.reporting.mixin), as a pivot asks it, on one of them
    grouped = admin("psa.billing.run.line", "read_group", [], ["amount:sum"], ["partner_id", "source_type"], lazy=False)
    assert isinstance(grouped, list) and all("__domain" in group for group in grouped), grouped
    got[("psa.reporting.mixin", "read_group")] = grouped
    return got


def test_every_public_method_has_a_call(answers):
    missing = suite_public_methods() - set(answers)
    assert not missing, f"public methods without a call over XML-RPC in this test: {sorted(missing)}"


def test_every_public_method_answers_a_value(answers):
    # Over XML-RPC, None would have been the fault "cannot marshal None"; False is a refusal in disguise.
    assert {key: answer for key, answer in answers.items() if answer is None or answer is False} == {}
