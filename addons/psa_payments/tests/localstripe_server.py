"""Run localstripe on 127.0.0.1 for the test suite, a little closer to real Stripe.

Usage: ``python3 localstripe_server.py --port N``. Started as a subprocess by ``tests/common.py``.

What it adds to localstripe (all things real Stripe does, or test switches):

- listens on 127.0.0.1 only and keeps its store in memory (localstripe pickles it to a shared
  ``/tmp`` file on every write, which parallel runs would trample);
- ``description`` and ``shipping`` on payment intents (Odoo sends the transaction reference there);
- ``Idempotency-Key``: a POST replayed with the same key returns the first answer and does nothing;
- ``POST /_config/psa/delay`` ``{"seconds": N}``: the next payment intent is created, then its answer is held
  N seconds, so the client times out although the charge happened (a lost response);
- ``GET /_config/psa/stats``: how many payment intents were created (to prove "never charged twice").
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


async def stats(request):
    return web.json_response({"created": _state["created"], "replayed": _state["replayed"]})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = server.app
    # Outermost, so that refused requests (answered by localstripe's error middleware) are cached too.
    app.middlewares.insert(0, psa_middleware)
    app.router.add_post("/_config/psa/delay", set_delay)
    app.router.add_get("/_config/psa/stats", stats)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
