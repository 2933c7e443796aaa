"""Bad input over the wire: malformed, oversized and wrongly signed requests to the public endpoints.

Property-based (hypothesis): whatever is posted, the server never answers 5xx and writes nothing.
"""

import json
import urllib.error
import urllib.request

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=6),
    max_leaves=20,
)
STRIPE_LIKE_EVENTS = st.fixed_dictionaries(
    {
        "id": st.text(max_size=30),
        "type": st.sampled_from(
            ["payment_intent.succeeded", "payment_intent.payment_failed", "setup_intent.succeeded", "charge.refunded"]
        )
        | st.text(max_size=30),
        "data": st.fixed_dictionaries({"object": JSON_VALUES}) | JSON_VALUES,
    }
)
BODIES = st.one_of(
    st.binary(max_size=2048),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    STRIPE_LIKE_EVENTS.map(lambda value: json.dumps(value).encode()),
)
SIGNATURES = st.one_of(
    st.none(),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789=,", max_size=80),
    st.integers(min_value=0, max_value=2**33).map(lambda ts: f"t={ts},v1={'0' * 64}"),
)


def post(url, body, headers):
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture(scope="module")
def payment_counts(admin):
    def counts():
        return (
            admin("payment.transaction", "search_count", []),
            admin("account.payment", "search_count", []),
        )

    return counts


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES, signature=SIGNATURES, content_type=st.sampled_from(["application/json", "text/plain", ""]))
def test_stripe_webhook_never_fails_or_writes(odoo_server, payment_counts, body, signature, content_type):
    before = payment_counts()
    headers = {"Content-Type": content_type} if content_type else {}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    status = post(f"{odoo_server.url}/payment/stripe/webhook", body, headers)
    assert status < 500, f"5xx for body {body[:200]!r}"
    assert payment_counts() == before


def test_stripe_webhook_oversized_body(odoo_server, payment_counts):
    before = payment_counts()
    status = post(f"{odoo_server.url}/payment/stripe/webhook", b"{" + b" " * (3 * 1024 * 1024) + b"}", {})
    assert status < 500
    assert payment_counts() == before
