"""The project's localstripe: a local Stripe-compatible server that accepts what Odoo 18 sends.

Usage: ``python3 scripts/localstripe_psa.py --port 8420 [--host 0.0.0.0]`` (needs ``pip install
'localstripe>=1.15,<2'``, which requirements-dev.txt has). The one launcher of the project: the add-ons' tests
(``addons/psa_payments/tests/common.py``), the end-to-end suite (``tests/conftest.py``), the bench
(``bench/bench_autopay.py``) and ``docker/compose.yml`` all start this file. Point a database at it with the
system parameter ``psa_payments.stripe_api_base`` = ``http://<host>:<port>/v1/`` (see the README).

Stock localstripe refuses two fields Odoo 18's ``payment_stripe`` always sends when it creates a
PaymentIntent (``description`` and ``shipping``), so every charge would end "failed: Unexpected description,
shipping". What this adds to localstripe (all things real Stripe does, or test switches):

- ``description`` and ``shipping`` on payment intents (Odoo sends the transaction reference there);
- listens on 127.0.0.1 unless told otherwise and keeps its store in memory (localstripe pickles it to a
  shared ``/tmp`` file on every write, which parallel runs would trample);
- ``Idempotency-Key``: a POST replayed with the same key returns the first answer and does nothing;
- ``POST /_config/psa/delay`` ``{"seconds": N}``: the next payment intent is created, then its answer is held
  N seconds, so the client times out although the charge happened (a lost response);
- ``GET /_config/psa/stats``: how many payment intents were created (to prove "never charged twice");
- ``POST /_config/psa/decline`` ``{"payment_method": "pm_...", "code": ..., "decline_code": ..., "message": ...}``:
  from now on charges on that saved card are declined with Stripe's error code and decline code (a card that
  was fine when saved and has since expired, been reported lost or run out of funds);
- a charge refused while creating a payment intent answers like Stripe: the error carries ``decline_code`` and
  the ``payment_intent`` (with ``last_payment_error``), so the client learns the intent id and the reason.
"""

import argparse
import asyncio

from aiohttp import web
from localstripe import resources, server

resources.Store.dump_to_disk = lambda self: None

_original_pi_init = resources.PaymentIntent.__init__


def _payment_intent_init(self, description=None, shipping=None, **kwargs):
    _original_pi_init(self, **kwargs)
    self.description = description
    self.shipping = shipping


resources.PaymentIntent.__init__ = _payment_intent_init

_declines = {}  # payment method id -> {"code", "decline_code", "message"}
_original_charging_is_declined = resources.PaymentMethod._charging_is_declined
_original_set_auth_failure = resources.Charge._set_auth_failure
_original_last_payment_error = resources.PaymentIntent.last_payment_error
_original_report_failure = resources.PaymentIntent._report_failure


def _charging_is_declined(self):
    return self.id in _declines or _original_charging_is_declined(self)


def _set_auth_failure(self):
    _original_set_auth_failure(self)
    decline = _declines.get(self.payment_method)
    if decline:
        self.failure_code = decline["code"]
        self.failure_message = decline["message"]
        self._decline_code = decline.get("decline_code")


def _last_payment_error(self):
    error = _original_last_payment_error.fget(self)
    decline_code = getattr(self.latest_charge, "_decline_code", None) if self.latest_charge else None
    if error and decline_code:
        error["decline_code"] = decline_code
    return error


def _report_failure(self):
    try:
        _original_report_failure(self)
    except resources.UserError as error:
        decline_code = getattr(self.latest_charge, "_decline_code", None)
        if decline_code:
            error.body["error"]["decline_code"] = decline_code
        error.body["error"]["type"] = "card_error"
        error.body["error"]["payment_intent"] = self._export()
        raise


resources.PaymentMethod._charging_is_declined = _charging_is_declined
resources.Charge._set_auth_failure = _set_auth_failure
resources.PaymentIntent.last_payment_error = property(_last_payment_error)
resources.PaymentIntent._report_failure = _report_failure

_state = {"delay": 0.0, "created": 0, "replayed": 0, "keys": {}}


@web.middleware
async def psa_middleware(request, handler):
    if request.path.startswith("/_config/"):
        return await handler(request)
    key = request.headers.get("Idempotency-Key")
    cache_key = (request.path, key)
    if request.method == "POST" and key and cache_key in _state["keys"]:
        _state["replayed"] += 1
        status, body = _state["keys"][cache_key]
        return web.Response(status=status, body=body, content_type="application/json")
    response = await handler(request)
    if request.method == "POST" and request.path == "/v1/payment_intents" and response.status < 500:
        _state["created"] += 1
    if request.method == "POST" and key:
        _state["keys"][cache_key] = (response.status, response.body)
    if request.method == "POST" and request.path == "/v1/payment_intents" and _state["delay"]:
        delay, _state["delay"] = _state["delay"], 0.0
        await asyncio.sleep(delay)
    return response


async def set_delay(request):
    data = await request.json()
    _state["delay"] = float(data.get("seconds", 0))
    return web.json_response({"delay": _state["delay"]})


async def set_decline(request):
    data = await request.json()
    _declines[data["payment_method"]] = {
        "code": data.get("code") or "card_declined",
        "decline_code": data.get("decline_code"),
        "message": data.get("message") or "Your card was declined.",
    }
    return web.json_response(_declines[data["payment_method"]])


async def stats(request):
    return web.json_response({"created": _state["created"], "replayed": _state["replayed"]})


def main():
    parser = argparse.ArgumentParser(description="localstripe accepting what Odoo 18's payment_stripe sends")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (compose: 0.0.0.0)")
    args = parser.parse_args()
    app = server.app
    # Outermost, so that refused requests (answered by localstripe's error middleware) are cached too.
    app.middlewares.insert(0, psa_middleware)
    app.router.add_post("/_config/psa/delay", set_delay)
    app.router.add_post("/_config/psa/decline", set_decline)
    app.router.add_get("/_config/psa/stats", stats)
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
