"""The MSP side over HTTP and XML-RPC: the RMM feeds the service desk, the month is billed and collected.

The admin sets up (configuration only) a Native-format RMM integration with its secret, the customer's site,
the auto-resolve pricing (first event of the month included, then 40.00 each) and the customer's agreement:
managed support 500.00 a month and 30.00 per managed server, prorated from the device register.

Then, signed over HTTP as the RMM would: the device sync (two servers and a workstation, first seen on the
first day of last month), three alerts (three tickets; the same batch again creates nothing), two of them
auto-resolved by the RMM (their tickets closed, two charges: 0.00 included, 40.00 overage). The month's run
(automatic mode, this customer) bills the agreement: 500.00 + 2 servers x 30.00 = 560.00, and the auto-pay
cron collects it from the saved card (localstripe).
"""

import json
import time
import uuid
from datetime import date, datetime, timedelta

import pytest
from _jobs import wait_for_jobs
from conftest import post_json, rmm_headers, trigger_cron, wait_for_billing_run

SUPPORT_PRICE = 500.0
SERVER_PRICE = 30.0
OVERAGE_PRICE = 40.0
INCLUDED_EVENTS = 1


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def msp(admin, odoo_server, localstripe):
    suffix = uuid.uuid4().hex[:6]
    today = date.today()
    period_end = today.replace(day=1) - timedelta(days=1)
    period_start = period_end.replace(day=1)
    customer_id = admin("res.partner", "create", {"name": f"Adatum Dental {suffix}", "is_company": True})
    no_tax = {"type": "service", "taxes_id": [(5, 0, 0)]}
    charge_product = admin("product.product", "create", {**no_tax, "name": f"Auto-resolved alert {suffix}"})
    support = admin("product.product", "create", {**no_tax, "name": f"Managed support {suffix}"})
    server = admin("product.product", "create", {**no_tax, "name": f"Managed server {suffix}"})
    integration_id = admin(
        "psa.rmm.integration",
        "create",
        {
            "name": f"Adatum RMM {suffix}",
            "kind": "native",
            "charge_product_id": charge_product,
            "included_events": INCLUDED_EVENTS,
            "overage_price": OVERAGE_PRICE,
        },
    )
    site = f"adatum-{suffix}"
    admin("psa.rmm.site", "create", {"integration_id": integration_id, "rmm_site_id": site, "partner_id": customer_id})
    secret = admin("psa.rmm.integration", "read", [integration_id], fields=["secret"])[0]["secret"]
    unit = admin("uom.uom", "search", [("name", "=", "Units")], limit=1)[0]
    formula = admin(
        "ir.model.data",
        "search_read",
        [("module", "=", "psa_rmm"), ("name", "=", "qty_formula_managed_devices")],
        fields=["res_id"],
    )[0]["res_id"]
    line = {
        "recurring_rule_type": "monthly",
        "recurring_interval": 1,
        "date_start": str(period_start),
        "uom_id": unit,
        "quantity": 1,
    }
    contract_id = admin(
        "contract.contract",
        "create",
        {
            "name": f"Adatum managed services {suffix}",
            "partner_id": customer_id,
            "line_recurrence": True,
            "contract_line_ids": [
                (0, 0, {**line, "product_id": support, "name": "Managed support", "price_unit": SUPPORT_PRICE}),
                (
                    0,
                    0,
                    {
                        **line,
                        "product_id": server,
                        "name": "Managed servers",
                        "price_unit": SERVER_PRICE,
                        "qty_type": "variable",
                        "qty_formula_id": formula,
                        "psa_device_type": "server",
                    },
                ),
            ],
        },
    )
    return {
        "url": f"{odoo_server.url}/psa/rmm/{integration_id}/events",
        "secret": secret,
        "site": site,
        "customer_id": customer_id,
        "contract_id": contract_id,
        "charge_product": charge_product,
        "period_start": period_start,
        "period_end": period_end,
        "integration_id": integration_id,
    }


def _send(msp, events, timestamp=None):
    body = json.dumps({"events": events}).encode()
    status, answer = post_json(msp["url"], body, rmm_headers(msp["secret"], body, timestamp))
    assert status == 200, answer
    return answer


def _device(name, kind):
    return {"id": f"agent-{name.lower()}", "name": name, "type": kind}


def _tickets(admin, msp):
    return admin(
        "helpdesk.ticket",
        "search_read",
        [("partner_id", "=", msp["customer_id"])],
        fields=["name", "closed", "priority", "psa_device_id"],
        order="id",
    )


def test_rmm_feeds_tickets_and_charges(admin, msp):
    first_seen = datetime.combine(msp["period_start"], datetime.min.time()) + timedelta(hours=8)
    devices = [_device("ADT-SRV1", "server"), _device("ADT-SRV2", "server"), _device("ADT-WS1", "workstation")]
    sync = [
        {
            "id": f"sync-{d['name']}",
            "type": "device.upserted",
            "occurred_at": _iso(first_seen),
            "site_id": msp["site"],
            "device": d,
        }
        for d in devices
    ]
    assert _send(msp, sync)["summary"].get("received") == 3
    wait_for_jobs(admin, "root.psa.rmm")
    registered = admin(
        "psa.device", "search_read", [("partner_id", "=", msp["customer_id"])], fields=["name", "device_type"]
    )
    assert sorted((d["name"], d["device_type"]) for d in registered) == [
        ("ADT-SRV1", "server"),
        ("ADT-SRV2", "server"),
        ("ADT-WS1", "workstation"),
    ]

    raised_at = first_seen + timedelta(days=10)
    alerts = [
        ("a1", devices[0], "critical", "Disk C: almost full"),
        ("a2", devices[1], "high", "Backup failed"),
        ("a3", devices[0], "low", "Pending reboot"),
    ]
    raised = [
        {
            "id": f"raise-{alert_id}",
            "type": "alert.raised",
            "occurred_at": _iso(raised_at),
            "site_id": msp["site"],
            "device": device,
            "alert": {"id": alert_id, "severity": severity, "title": title, "message": title},
        }
        for alert_id, device, severity, title in alerts
    ]
    assert _send(msp, raised)["summary"].get("received") == 3
    wait_for_jobs(admin, "root.psa.rmm")
    tickets = _tickets(admin, msp)
    assert len(tickets) == 3
    assert [t["priority"] for t in tickets] == ["3", "2", "0"], "severity becomes priority"
    # the RMM retries the batch a second later (a new signature, not a replay): duplicates, no new ticket
    assert _send(msp, raised, timestamp=int(time.time()) + 1)["summary"].get("duplicate") == 3
    assert len(_tickets(admin, msp)) == 3

    resolved = [
        {
            "id": f"resolve-{alert_id}",
            "type": "alert.auto_resolved",
            "occurred_at": _iso(raised_at + timedelta(hours=2)),
            "site_id": msp["site"],
            "device": device,
            "alert": {"id": alert_id, "severity": severity, "title": title},
        }
        for alert_id, device, severity, title in alerts[:2]
    ]
    assert _send(msp, resolved)["summary"].get("received") == 2
    wait_for_jobs(admin, "root.psa.rmm")
    tickets = _tickets(admin, msp)
    assert [t["closed"] for t in tickets] == [True, True, False]
    charges = admin(
        "psa.rmm.charge",
        "search_read",
        [("partner_id", "=", msp["customer_id"])],
        fields=["amount", "date", "state", "ticket_id", "explanation"],
        order="id",
    )
    assert [c["amount"] for c in charges] == [0.0, OVERAGE_PRICE]
    assert {c["date"] for c in charges} == {str(raised_at.date())}
    assert [c["ticket_id"][0] for c in charges] == [t["id"] for t in tickets[:2]]
    assert "included" in charges[0]["explanation"] and "overage" in charges[1]["explanation"]


def _run_the_month(admin, msp):
    """The month's run for this customer, automatic mode (this month's company-wide run is the monthly cron's)."""
    existing = admin("psa.billing.run", "search", [("partner_ids", "in", [msp["customer_id"]])])
    if existing:
        return existing[0]
    run_id = admin(
        "psa.billing.run",
        "create",
        {"mode": "automatic", "partner_ids": [(6, 0, [msp["customer_id"]])], "period_end": str(msp["period_end"])},
    )
    admin("psa.billing.run", "action_confirm", [run_id])
    wait_for_billing_run(admin, run_id)
    return run_id


def test_month_is_billed_and_collected(admin, msp, localstripe):
    token_id, stripe_customer = localstripe.save_card(admin, msp["customer_id"])
    admin("psa.payment.mandate", "create", {"partner_id": msp["customer_id"], "token_id": token_id})
    run_id = _run_the_month(admin, msp)
    assert admin("psa.billing.run", "read", [run_id], fields=["state"])[0]["state"] == "done"
    invoices = admin(
        "account.move",
        "search_read",
        [("partner_id", "=", msp["customer_id"]), ("move_type", "=", "out_invoice")],
        fields=["state", "amount_untaxed", "amount_total", "invoice_line_ids"],
    )
    charged = admin("psa.rmm.charge", "search_read", [("partner_id", "=", msp["customer_id"])], fields=["amount"])
    servers = 2
    agreement_total = round(SUPPORT_PRICE + servers * SERVER_PRICE, 2)
    charges_total = round(sum(c["amount"] for c in charged), 2)
    # the agreement (support + devices) on one invoice, the RMM charges on their own
    assert sorted(i["amount_untaxed"] for i in invoices) == sorted(
        [agreement_total] + ([charges_total] if charges_total else [])
    )
    assert all(i["state"] == "posted" for i in invoices)
    invoice = next(i for i in invoices if i["amount_untaxed"] == agreement_total)
    lines = admin(
        "account.move.line", "read", invoice["invoice_line_ids"], fields=["name", "quantity", "price_subtotal"]
    )
    device_line = next(line for line in lines if "Managed servers" in line["name"])
    assert device_line["quantity"] == servers
    assert "ADT-SRV1" in device_line["name"] and "ADT-SRV2" in device_line["name"]
    assert "ADT-WS1" not in device_line["name"]

    trigger_cron(admin, "psa_payments.ir_cron_charge_due_invoices")
    wait_for_jobs(admin, "root.psa.payments")
    ids = [i["id"] for i in invoices]
    paid = admin("account.move", "read", ids, fields=["payment_state", "amount_residual", "amount_total"])
    assert all(p["payment_state"] in ("paid", "in_payment") and p["amount_residual"] == 0.0 for p in paid)
    intents = localstripe.intents(stripe_customer)
    assert sorted((i["amount"], i["status"]) for i in intents) == sorted(
        (round(p["amount_total"] * 100), "succeeded") for p in paid
    )


def test_month_bills_the_rmm_charges(admin, msp):
    _run_the_month(admin, msp)
    charges = admin(
        "psa.rmm.charge",
        "search_read",
        [("partner_id", "=", msp["customer_id"])],
        fields=["amount", "state", "invoice_line_id"],
    )
    assert charges and all(c["state"] == "invoiced" and c["invoice_line_id"] for c in charges)
    billed = admin(
        "account.move.line",
        "search_read",
        [("partner_id", "=", msp["customer_id"]), ("product_id", "=", msp["charge_product"])],
        fields=["price_subtotal"],
    )
    assert sum(line["price_subtotal"] for line in billed) == OVERAGE_PRICE
