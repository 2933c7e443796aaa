"""Bench: 1,000 due invoices charged by auto-pay against localstripe, enqueued by two cron runs at once, the
charge jobs then performed in this process (one job worker; ``bench_autopay_workers.py`` compares 1 and 2).

Runs on a database that has ``psa_payments`` installed, named by PSA_DB_NAME, with the Odoo configuration
file in PSA_ODOO_CONFIG (the ``make bench`` protocol). Prints ``BENCH {...}`` lines: charges per second,
duplicate charges (payment intents created beyond one per invoice), invoices left unpaid.
"""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from _job_workers import perform_jobs_here

import odoo
from odoo import SUPERUSER_ID, Command, api, fields
from odoo.modules.registry import Registry

INVOICES = int(os.environ.get("PSA_BENCH_INVOICES", "1000"))
CUSTOMERS = 50
RUNS = 2  # concurrent cron runs
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "localstripe_psa.py"
SECRET = "sk_test_psa_bench"


def bench_line(**values):
    sys.stdout.write("BENCH " + json.dumps(values) + "\n")
    sys.stdout.flush()


def start_localstripe():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            requests.get(f"{url}/_config/psa/stats", timeout=1)
            return proc, url
        except requests.exceptions.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("localstripe did not start")


def stripe(url, path, data):
    response = requests.post(f"{url}/v1/{path}", data=data, headers={"Authorization": f"Bearer {SECRET}"}, timeout=10)
    response.raise_for_status()
    return response.json()


def prepare(env, url):
    env["ir.config_parameter"].set_param("psa_payments.stripe_api_base", f"{url}/v1/")
    card = env.ref("payment.payment_method_card")
    provider = env.ref("payment.payment_provider_stripe")
    provider.write(
        {
            "state": "test",
            "stripe_secret_key": SECRET,
            "stripe_publishable_key": "pk_test_psa_bench",
            "stripe_webhook_secret": "whsec_psa_bench",
            "payment_method_ids": [Command.link(card.id)],
        }
    )
    card.active = True
    # Settle the provider's journal (and its payment method line) before the concurrent runs need it.
    provider.journal_id = env["account.journal"].search(
        [("type", "=", "bank"), ("company_id", "=", provider.company_id.id)], limit=1
    )
    product = env["product.product"].create({"name": "Bench support", "type": "service"})
    partners = env["res.partner"].create(
        [{"name": f"Bench customer {n}", "is_company": True, "email": f"ap{n}@bench.example"} for n in range(CUSTOMERS)]
    )
    tokens_vals, mandates_vals = [], []
    for partner in partners:
        customer = stripe(url, "customers", {"name": partner.name})
        method = stripe(
            url,
            "payment_methods",
            {
                "type": "card",
                "card[number]": "4242424242424242",
                "card[exp_month]": 12,
                "card[exp_year]": 2030,
                "card[cvc]": "123",
            },
        )
        stripe(url, f"payment_methods/{method['id']}/attach", {"customer": customer["id"]})
        tokens_vals.append(
            {
                "provider_id": provider.id,
                "payment_method_id": card.id,
                "payment_details": "4242",
                "partner_id": partner.id,
                "provider_ref": customer["id"],
                "stripe_payment_method": method["id"],
            }
        )
    tokens = env["payment.token"].create(tokens_vals)
    for partner, token in zip(partners, tokens, strict=True):
        mandates_vals.append({"partner_id": partner.id, "token_id": token.id})
    env["psa.payment.mandate"].create(mandates_vals)
    today = fields.Date.context_today(env["account.move"])
    invoices = env["account.move"].create(
        [
            {
                "move_type": "out_invoice",
                "partner_id": partners[n % CUSTOMERS].id,
                "invoice_date": today,
                "invoice_payment_term_id": False,
                "invoice_date_due": today,
                "invoice_line_ids": [
                    Command.create({"product_id": product.id, "quantity": 1, "price_unit": 10 + n % 90, "tax_ids": []})
                ],
            }
            for n in range(INVOICES)
        ]
    )
    invoices.action_post()
    return invoices.ids


def cron_run(registry, results, index):
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        results[index] = env["account.move"]._cron_charge_due_invoices(batch_size=50)


def main():
    odoo.tools.config.parse_config(["-c", os.environ["PSA_ODOO_CONFIG"]])
    registry = Registry(os.environ["PSA_DB_NAME"])
    proc, url = start_localstripe()
    try:
        with registry.cursor() as cr:
            invoice_ids = prepare(api.Environment(cr, SUPERUSER_ID, {}), url)
        results = [0] * RUNS
        threads = [threading.Thread(target=cron_run, args=(registry, results, i)) for i in range(RUNS)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # the crons open the attempts and enqueue one job per charge (root.psa.payments): one worker, here
        perform_jobs_here(registry, "root.psa.payments")
        elapsed = time.perf_counter() - start
        stats = requests.get(f"{url}/_config/psa/stats", timeout=10).json()
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            invoices = env["account.move"].browse(invoice_ids)
            unpaid = len(invoices.filtered(lambda m: m.payment_state not in ("paid", "in_payment")))
            attempts = env["psa.payment.attempt"].search_count([("move_id", "in", invoice_ids)])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    charged = INVOICES - unpaid
    bench_line(
        figure=f"auto-pay charges per second ({INVOICES} due invoices, {RUNS} concurrent cron runs, 1 job worker)",
        ours=round(charged / elapsed, 1),
        odoo=None,
        unit="charges/s",
        target=None,
        met=None,
    )
    bench_line(
        figure="duplicate charges",
        ours=stats["created"] - charged,
        odoo=None,
        unit="",
        target=0,
        met=stats["created"] == charged,
    )
    bench_line(figure="invoices left unpaid", ours=unpaid, odoo=None, unit="", target=0, met=unpaid == 0)
    sys.stdout.write(f"attempts={attempts} per-run={results} intents={stats['created']} elapsed={elapsed:.1f}s\n")


if __name__ == "__main__":
    main()
