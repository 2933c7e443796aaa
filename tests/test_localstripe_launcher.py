"""The project's one localstripe launcher (``scripts/localstripe_psa.py``) accepts a PaymentIntent the way
Odoo 18's ``payment_stripe`` creates it (with ``description`` and ``shipping``, which stock localstripe
refuses), and ``docker/compose.yml`` starts that launcher, not stock localstripe, for the demo database."""

from pathlib import Path

import pytest
from conftest import GOOD_CARD, LOCALSTRIPE_SCRIPT, LocalStripe

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def launcher():
    server = LocalStripe().start()
    yield server
    server.stop()


def test_payment_intent_as_payment_stripe_sends_it(launcher):
    customer = launcher.api("POST", "customers", {"name": "Launcher Customer"})
    method = launcher.api(
        "POST",
        "payment_methods",
        {"type": "card", "card[number]": GOOD_CARD, "card[exp_month]": 12, "card[exp_year]": 2030, "card[cvc]": "123"},
    )
    launcher.api("POST", f"payment_methods/{method['id']}/attach", {"customer": customer["id"]})
    # What payment_stripe's _stripe_prepare_payment_intent_payload sends for a saved card (the offline flow).
    intent = launcher.api(
        "POST",
        "payment_intents",
        {
            "amount": 12000,
            "currency": "usd",
            "description": "INV/2026/00001",
            "customer": customer["id"],
            "payment_method": method["id"],
            "off_session": "true",
            "confirm": "true",
            "capture_method": "automatic",
            "payment_method_types[]": "card",
            "expand[]": "payment_method",
            "shipping[name]": "Launcher Customer",
            "shipping[address][line1]": "1 Main Street",
            "shipping[address][city]": "Springfield",
            "shipping[address][country]": "US",
        },
    )
    assert intent["status"] == "succeeded"
    assert intent["description"] == "INV/2026/00001"
    assert intent["shipping"]["address"]["city"] == "Springfield"


def test_compose_starts_the_launcher_and_points_odoo_at_it():
    compose = (REPO / "docker" / "compose.yml").read_text()
    service = compose.split("\n  localstripe:\n", 1)[1].split("\n\n", 1)[0]
    assert f"python3 /opt/psa/{LOCALSTRIPE_SCRIPT.name} --host 0.0.0.0 --port 8420" in service
    assert f"- ../scripts/{LOCALSTRIPE_SCRIPT.name}:/opt/psa/{LOCALSTRIPE_SCRIPT.name}:ro" in service
    entrypoint = (REPO / "docker" / "psa-entrypoint.sh").read_text()
    assert '"psa_payments.stripe_api_base", "http://localstripe:8420/v1/"' in entrypoint
