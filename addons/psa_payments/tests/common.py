import hashlib
import hmac
import json
import socket
import subprocess
import sys
import time
import unittest
from pathlib import Path

import requests

from odoo import Command, fields
from odoo.tests import HttpCase, TransactionCase, new_test_user

from odoo.addons.psa_timesheet_billing.tests.queue_job_helpers import perform_queued_jobs

CHARGE_CHANNEL = "root.psa.payments"

# The project's one localstripe launcher (accepts what payment_stripe sends), at the repository level.
LOCALSTRIPE_SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "localstripe_psa.py"
SECRET_KEY = "sk_test_psa_autopay"
WEBHOOK_SECRET = "whsec_psa_autopay_test"
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"  # attaches fine, every charge is declined (localstripe)
AUTHENTICATION_CARD = "4000002500003155"  # every charge asks for 3-D Secure (localstripe)


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AutopayFixtures:
    """Odoo data shared by the provider-specific fixtures: needs ``customer``, ``token``, ``salesperson`` and
    ``product`` on the class."""

    @classmethod
    def _create_mandate(cls, partner=None, token=None, company=None, **values):
        return (
            cls.env["psa.payment.mandate"]
            .with_company(company or cls.env.company)
            .create(
                {
                    "partner_id": (partner or cls.customer).id,
                    "token_id": (token or cls.token).id,
                    **values,
                }
            )
        )

    @classmethod
    def _create_invoice(cls, amount, invoice_date, due_date=None, partner=None, post=True, company=None):
        invoice = (
            cls.env["account.move"]
            .with_company(company or cls.env.company)
            .create(
                {
                    "move_type": "out_invoice",
                    "partner_id": (partner or cls.customer).id,
                    "invoice_user_id": cls.salesperson.id,
                    "invoice_date": invoice_date,
                    "invoice_payment_term_id": False,
                    "invoice_date_due": due_date or invoice_date,
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "product_id": cls.product.id,
                                "quantity": 1,
                                "price_unit": amount,
                                "tax_ids": [Command.clear()],
                            }
                        )
                    ],
                }
            )
        )
        if post:
            invoice.action_post()
        return invoice

    def _run_cron(self):
        """The auto-pay cron, then its charge jobs, performed here as the job workers would."""
        opened = self.env["account.move"]._cron_charge_due_invoices(batch_size=10)
        perform_queued_jobs(self.env, CHARGE_CHANNEL)
        return opened

    def _mails_to(self, partner, invoice):
        return self.env["mail.mail"].search(
            [("recipient_ids", "in", partner.ids), ("model", "=", "account.move"), ("res_id", "=", invoice.id)]
        )

    def _paid(self, invoice):
        invoice.invalidate_recordset()
        return invoice.payment_state in ("paid", "in_payment")


class LocalStripeCommon(AutopayFixtures, HttpCase):
    """A real localstripe server on loopback, the Stripe provider pointed at it, and a customer with a card.

    Scenario: Northwind IT bills "Kestrel Dental", whose card is saved as an Odoo token (a Stripe customer and
    payment method that exist in localstripe). Invoices are created and posted per test.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_localstripe()
        icp = cls.env["ir.config_parameter"].sudo()
        icp.set_param("psa_payments.stripe_api_base", f"{cls.localstripe_url}/v1/")
        icp.set_param("psa_payments.stripe_timeout", "5")
        icp.set_param("psa_payments.retry_days", "3,7")
        cls.company = cls.env.company
        cls.currency = cls.company.currency_id
        cls.card_method = cls.env.ref("payment.payment_method_card")
        cls.provider = cls.env.ref("payment.payment_provider_stripe")
        cls.provider.write(
            {
                "state": "test",
                "company_id": cls.company.id,
                "stripe_secret_key": SECRET_KEY,
                "stripe_publishable_key": "pk_test_psa_autopay",
                "stripe_webhook_secret": WEBHOOK_SECRET,
                "payment_method_ids": [Command.link(cls.card_method.id)],
            }
        )
        cls.card_method.active = True
        cls.salesperson = new_test_user(
            cls.env, login="psa_pay_sales", groups="sales_team.group_sale_salesman,account.group_account_invoice"
        )
        cls.billing_user = new_test_user(cls.env, login="psa_pay_billing", groups="account.group_account_invoice")
        cls.customer = cls.env["res.partner"].create(
            {"name": "Kestrel Dental", "is_company": True, "email": "ap@kestrel-dental.example"}
        )
        cls.token = cls._create_stripe_token(cls.customer, GOOD_CARD)
        cls.product = cls.env["product.product"].create({"name": "Managed support", "type": "service"})

    # ------------------------------------------------------------------
    # localstripe
    # ------------------------------------------------------------------

    @classmethod
    def _start_localstripe(cls):
        port = _free_port()
        cls.localstripe_url = f"http://127.0.0.1:{port}"
        cls.localstripe = subprocess.Popen(
            [sys.executable, str(LOCALSTRIPE_SCRIPT), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        cls.addClassCleanup(cls._stop_localstripe)
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{cls.localstripe_url}/_config/psa/stats", timeout=1).raise_for_status()
                break
            except requests.exceptions.RequestException:
                if time.monotonic() > deadline or cls.localstripe.poll() is not None:
                    raise RuntimeError("localstripe did not start") from None
                time.sleep(0.2)

    @classmethod
    def _stop_localstripe(cls):
        cls.localstripe.terminate()
        try:
            cls.localstripe.wait(timeout=10)
        except subprocess.TimeoutExpired:
            cls.localstripe.kill()
            cls.localstripe.wait(timeout=10)

    @classmethod
    def _stripe(cls, method, path, data=None):
        response = requests.request(
            method,
            f"{cls.localstripe_url}/v1/{path}",
            data=data,
            headers={"Authorization": f"Bearer {SECRET_KEY}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()

    @classmethod
    def _create_stripe_token(cls, partner, card_number):
        customer = cls._stripe("POST", "customers", {"name": partner.name, "email": partner.email})
        payment_method = cls._stripe(
            "POST",
            "payment_methods",
            {
                "type": "card",
                "card[number]": card_number,
                "card[exp_month]": 12,
                "card[exp_year]": 2030,
                "card[cvc]": "123",
            },
        )
        cls._stripe("POST", f"payment_methods/{payment_method['id']}/attach", {"customer": customer["id"]})
        return cls.env["payment.token"].create(
            {
                "provider_id": cls.provider.id,
                "payment_method_id": cls.card_method.id,
                "payment_details": card_number[-4:],
                "partner_id": partner.id,
                "provider_ref": customer["id"],
                "stripe_payment_method": payment_method["id"],
            }
        )

    @classmethod
    def _localstripe_stats(cls):
        return requests.get(f"{cls.localstripe_url}/_config/psa/stats", timeout=5).json()

    @classmethod
    def _localstripe_delay_next_charge(cls, seconds):
        requests.post(f"{cls.localstripe_url}/_config/psa/delay", json={"seconds": seconds}, timeout=5)

    @classmethod
    def _localstripe_decline_card(cls, token, code, message, decline_code=None):
        """From now on, charges on this saved card are declined with Stripe's codes (expired since saved...)."""
        requests.post(
            f"{cls.localstripe_url}/_config/psa/decline",
            json={
                "payment_method": token.stripe_payment_method,
                "code": code,
                "decline_code": decline_code,
                "message": message,
            },
            timeout=5,
        ).raise_for_status()

    @classmethod
    def _intents_for(cls, reference, token):
        intents = cls._stripe("GET", "payment_intents", {"limit": 100})["data"]
        return [
            intent
            for intent in intents
            if intent.get("description") == reference and intent.get("customer") == token.provider_ref
        ]

    def _post_webhook(self, event_type, stripe_object, secret=WEBHOOK_SECRET):
        payload = json.dumps({"type": event_type, "data": {"object": stripe_object}})
        timestamp = int(time.time())
        signature = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
        return self.url_open(
            "/payment/stripe/webhook",
            data=payload,
            headers={"Content-Type": "application/json", "Stripe-Signature": f"t={timestamp},v1={signature}"},
        )

    @staticmethod
    def _today():
        return fields.Date.today()


class DemoProviderCommon(AutopayFixtures, TransactionCase):
    """The same customer and flows with Odoo's ``payment_demo`` provider, to prove auto-pay is provider-agnostic.

    A demo token carries the outcome of every charge made with it (``demo_simulated_state``). ``payment_demo``
    is installed for the tests by ``scripts/psa_dev.py`` (it is not a dependency of the add-on).
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if cls.env["ir.module.module"]._get("payment_demo").state != "installed":
            raise unittest.SkipTest("payment_demo is not installed (scripts/psa_dev.py installs it for the tests)")
        cls.env["ir.config_parameter"].sudo().set_param("psa_payments.retry_days", "3,7")
        cls.company = cls.env.company
        cls.demo_method = cls.env.ref("payment_demo.payment_method_demo")
        cls.provider = cls._create_demo_provider(cls.company)
        cls.salesperson = new_test_user(
            cls.env, login="psa_demo_sales", groups="sales_team.group_sale_salesman,account.group_account_invoice"
        )
        cls.billing_user = new_test_user(cls.env, login="psa_demo_billing", groups="account.group_account_invoice")
        cls.customer = cls.env["res.partner"].create(
            {"name": "Kestrel Dental", "is_company": True, "email": "ap@kestrel-dental.example"}
        )
        cls.token = cls._create_demo_token(cls.customer, "done")
        cls.product = cls.env["product.product"].create({"name": "Managed support", "type": "service"})

    @classmethod
    def _create_demo_provider(cls, company):
        return cls.env["payment.provider"].create(
            {
                "name": f"Demo cards ({company.name})",
                "code": "demo",
                "state": "test",
                "company_id": company.id,
                "payment_method_ids": [Command.set(cls.demo_method.ids)],
            }
        )

    @classmethod
    def _create_demo_token(cls, partner, simulated_state, provider=None):
        return cls.env["payment.token"].create(
            {
                "provider_id": (provider or cls.provider).id,
                "payment_method_id": cls.demo_method.id,
                "partner_id": partner.id,
                "payment_details": f"demo {simulated_state}",
                "provider_ref": f"demo-{partner.id}-{simulated_state}",
                "demo_simulated_state": simulated_state,
            }
        )
