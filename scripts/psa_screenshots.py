#!/usr/bin/env python3
"""The README's screenshots, taken from the demo in headless Chromium, not by hand.

    python3 scripts/psa_screenshots.py                 # serve the demo (scripts/psa_dev.py run), shoot, stop
    python3 scripts/psa_screenshots.py --url http://127.0.0.1:8069   # use a running `make run`
    python3 scripts/psa_screenshots.py --look NAME PATH [--mobile] [--js CODE]  # one look while developing

Four key screens, each at 1440x900 (desktop) and 390x844 (a phone, what Odoo mobile shows), written to
docs/img/<screen>-desktop.png and docs/img/<screen>-mobile.png: the approver's Time to Approve, a billing run
with its lines, an engagement, and the customer's prepaid page in the portal.

Chromium (Debian's ``chromium``) is driven through its DevTools protocol (``requests`` and ``websocket-client``,
both required by Odoo), on a free loopback port with a throw-away profile. Console errors and error dialogs
are printed under each shot: a screen with an error fails the script.
"""

import argparse
import base64
import contextlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import requests
import websocket

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO, "docs", "img")
DESKTOP = {"width": 1440, "height": 900, "deviceScaleFactor": 1, "mobile": False}
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)
# the demo's portal customer (psa_rmm's demo: Anna of Contoso) and its demo password
PORTAL_LOGIN = os.environ.get("PSA_PORTAL_LOGIN", "anna.keller@contoso-dental.example.com")
PORTAL_PASSWORD = os.environ.get("PSA_PORTAL_PASSWORD", "portal")


def say(message):
    print(f"[shots] {message}", flush=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Odoo:
    """JSON-RPC to the demo server, as admin: finds the records to show."""

    def __init__(self, url, db, login="admin", password="admin"):
        self.url, self.db = url, db
        self.session = requests.Session()
        self.session_id = self.authenticate(login, password)

    def authenticate(self, login, password):
        answer = self.session.post(
            f"{self.url}/web/session/authenticate",
            json={"jsonrpc": "2.0", "method": "call", "params": {"db": self.db, "login": login, "password": password}},
            timeout=120,
        ).json()
        if answer.get("error"):
            sys.exit(f"login as {login} failed: {answer['error']['data']['message']}")
        return self.session.cookies.get("session_id")

    def call(self, model, method, *args, **kwargs):
        answer = self.session.post(
            f"{self.url}/web/dataset/call_kw",
            json={
                "jsonrpc": "2.0",
                "method": "call",
                "params": {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
            },
            timeout=120,
        ).json()
        if answer.get("error"):
            sys.exit(f"{model}.{method}: {answer['error']['data']['message']}")
        return answer["result"]

    def xmlid(self, xmlid):
        module, name = xmlid.split(".")
        rows = self.call("ir.model.data", "search_read", [("module", "=", module), ("name", "=", name)], ["res_id"])
        return rows[0]["res_id"] if rows else None

    def first(self, model, domain, order="id"):
        ids = self.call(model, "search", domain, limit=1, order=order)
        return ids[0] if ids else None


class Chromium:
    """A headless Chromium of our own, one tab, driven through the DevTools protocol."""

    def __init__(self):
        binary = shutil.which("chromium") or shutil.which("chromium-browser")
        if not binary:
            sys.exit("Chromium is missing: install Debian's `chromium` package (apt-get install chromium)")
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="psa-shots-")
        self.proc = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--remote-debugging-port={self.port}",
                "--remote-debugging-address=127.0.0.1",
                f"--user-data-dir={self.profile}",
                "--no-first-run",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(120):
            with contextlib.suppress(requests.RequestException):
                tabs = requests.get(f"http://127.0.0.1:{self.port}/json/list", timeout=2).json()
                pages = [tab for tab in tabs if tab.get("type") == "page"]
                if pages:
                    break
            time.sleep(0.5)
        else:
            self.close()
            sys.exit("Chromium did not start")
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=120, suppress_origin=True)
        self.counter = 0
        self.events = []
        for domain in ("Page", "Runtime", "Network"):
            self.call(f"{domain}.enable")

    def close(self):
        with contextlib.suppress(Exception):
            self.ws.close()
        self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)

    def call(self, method, **params):
        self.counter += 1
        message_id = self.counter
        self.ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def evaluate(self, code):
        result = self.call("Runtime.evaluate", expression=code, awaitPromise=True, returnByValue=True)
        return result.get("result", {}).get("value")

    def wait_for(self, selector, timeout=60):
        """Wait until ``selector`` matches and the web client is idle (no loading indicator)."""
        code = (
            f"!!document.querySelector({json.dumps(selector)}) && "
            "!document.querySelector('.o_loading_indicator, .o_blockUI, .o-loading')"
        )
        end = time.time() + timeout
        while time.time() < end:
            if self.evaluate(code):
                return True
            time.sleep(0.3)
        return False

    def login(self, base_url, session_id, phone):
        self.call("Network.clearBrowserCookies")
        host = base_url.split("://", 1)[1].split(":")[0].split("/")[0]
        self.call("Network.setCookie", name="session_id", value=session_id, domain=host, path="/")
        self.call("Emulation.setDeviceMetricsOverride", **(PHONE if phone else DESKTOP))
        self.call("Emulation.setUserAgentOverride", userAgent=PHONE_UA if phone else "")
        self.call("Emulation.setTouchEmulationEnabled", enabled=phone, maxTouchPoints=5 if phone else 1)

    def shoot(self, url, wait_selector, steps=(), full=False):
        """Open ``url``, wait for ``wait_selector``, run each ``(code, selector to wait for)`` of ``steps``;
        return the PNG and the errors seen (console errors, exceptions, error dialogs)."""
        self.events = []
        self.call("Page.navigate", url=url)
        errors = []
        if not self.wait_for(wait_selector):
            errors.append(f"never showed {wait_selector}")
        for code, selector in steps:
            self.evaluate(code)
            if selector and not self.wait_for(selector, timeout=30):
                errors.append(f"after {code[:60]}: never showed {selector}")
        time.sleep(1.5)  # fonts, images and the last re-render
        self.evaluate("document.activeElement && document.activeElement.blur()")
        params = {"format": "png"}
        if full:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params.update(
                captureBeyondViewport=True,
                clip={"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 2400), "scale": 1},
            )
        png = base64.b64decode(self.call("Page.captureScreenshot", **params)["data"])
        for event in self.events:
            method, params_ = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                errors.append(f"exception: {params_['exceptionDetails'].get('text')}")
            elif method == "Runtime.consoleAPICalled" and params_.get("type") == "error":
                text = " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params_.get("args", []))
                errors.append(f"console.error: {text[:300]}")
        dialogs = self.evaluate(
            "Array.from(document.querySelectorAll('.o_error_dialog, .o_dialog .modal-title'))"
            ".map(e => e.innerText.slice(0, 200)).join(' | ')"
        )
        if dialogs:
            errors.append(f"dialog: {dialogs}")
        return png, errors


def compress(png):
    """A palette PNG (256 colours): a few hundred KB at most, as the README needs."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    out = io.BytesIO()
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, format="PNG", optimize=True)
    return out.getvalue()


def screens(odoo):
    """The four key screens: ``(name, login, password, path, wait selector, steps)``."""
    run = odoo.first("psa.billing.run", [("state", "in", ("previewed", "done"))], order="state desc, id desc")
    # the demo's engagement changed by orders (Contoso's migration), else the first engagement
    engagement = odoo.xmlid("psa_orders.demo_project_contoso_m365") or odoo.first(
        "project.project", [("psa_is_engagement", "=", True)]
    )
    if not (run and engagement):
        sys.exit("the demo lacks a billing run or an engagement: is it the PSA demo database?")
    lines_tab = (
        "Array.from(document.querySelectorAll('.o_notebook .nav-link')).find(a => a.innerText.includes('Lines'))"
        "?.click()"
    )
    # on a phone the lines are below the fold: scroll the notebook to the top of the screen
    show_lines = "document.querySelector('.o_notebook')?.scrollIntoView()"
    # what a rule held, with its reason (the desktop list; a phone shows the cards of what waits)
    held_filter = (
        "document.querySelector('.o_searchview_dropdown_toggler')?.click();"
        "new Promise(r => setTimeout(r, 800)).then(() => Array.from(document.querySelectorAll("
        "'.o_filter_menu .o_menu_item')).find(e => e.innerText.includes('Refused by a rule'))?.click())"
    )
    close_dropdown = (
        "document.querySelector('.o_filter_menu') && document.querySelector('.o_searchview_dropdown_toggler').click()"
    )
    return [
        (
            "time-to-approve",
            "admin",
            "admin",
            "/odoo/action-psa_timesheet_billing.action_psa_timesheets_to_approve",
            ".o_data_row, .o_kanban_record:not(.o_kanban_ghost)",
            [(held_filter, ".o_data_row, .o_kanban_record:not(.o_kanban_ghost)"), (close_dropdown, None)],
        ),
        (
            "billing-run",
            "admin",
            "admin",
            f"/odoo/action-psa_timesheet_billing.action_psa_billing_run/{run}",
            ".o_form_view .o_field_widget[name=summary]",
            [
                (
                    lines_tab,
                    ".o_field_widget[name=line_ids] .o_data_row, .o_field_widget[name=line_ids] .o_kanban_record",
                ),
                (show_lines, None),
            ],
        ),
        (
            "engagement",
            "admin",
            "admin",
            f"/odoo/action-psa_orders.action_psa_engagements/{engagement}",
            ".o_form_view .o_field_widget[name=psa_committed_value]",
            [],
        ),
        ("portal-prepaid", PORTAL_LOGIN, PORTAL_PASSWORD, "/my/prepaid", "main", []),
    ]


@contextlib.contextmanager
def demo_server(url):
    """A running server at ``url``, else the demo served by ``scripts/psa_dev.py run`` for the time of the shots."""
    with contextlib.suppress(requests.RequestException):
        if requests.get(f"{url}/web/login", timeout=5).ok:
            yield url
            return
    if url:
        sys.exit(f"no server answers at {url}")
    http_port = free_port()
    served = f"http://127.0.0.1:{http_port}"
    env = {**os.environ, "PSA_HTTP_PORT": str(http_port), "PSA_PG_PORT": str(free_port())}
    say(f"serving the demo on {served} (scripts/psa_dev.py run; the first run builds the demo database)")
    proc = subprocess.Popen([sys.executable, os.path.join(REPO, "scripts", "psa_dev.py"), "run"], cwd=REPO, env=env)
    try:
        for _ in range(1800):
            if proc.poll() is not None:
                sys.exit("the demo server stopped")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{served}/web/login", timeout=5).ok:
                    break
            time.sleep(1)
        yield served
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("PSA_URL", ""), help="a running server (else one is served)")
    parser.add_argument("--db", default=os.environ.get("PSA_DB", "psa"))
    parser.add_argument("--out", default=OUT_DIR)
    parser.add_argument("--only", action="append", default=[], help="only this screen (repeatable)")
    parser.add_argument("--look", nargs=2, metavar=("NAME", "PATH"), help="one shot of PATH, to look while developing")
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--mobile", action="store_true", help="--look at 390 px")
    parser.add_argument("--js", action="append", default=[], help="--look: run CODE after the load (repeatable)")
    parser.add_argument("--full", action="store_true", help="--look: the whole page, not only the viewport")
    options = parser.parse_args()
    os.makedirs(options.out, exist_ok=True)
    failed = False
    with demo_server(options.url.rstrip("/")) as url:
        odoo = Odoo(url, options.db)
        browser = Chromium()
        try:
            if options.look:
                name, path = options.look
                session = Odoo(url, options.db, options.login, options.password).session_id
                browser.login(url, session, options.mobile)
                steps = [(code, None) for code in options.js]
                png, errors = browser.shoot(url + path, "body", steps, full=options.full)
                target = os.path.join(options.out, f"{name}.png")
                with open(target, "wb") as handle:
                    handle.write(png)
                say(f"{target} {browser.evaluate('location.href')}")
                for error in errors:
                    say(f"  {error}")
                return 0
            sessions = {}
            for name, login, password, path, selector, steps in screens(odoo):
                if options.only and name not in options.only:
                    continue
                if login not in sessions:
                    sessions[login] = Odoo(url, options.db, login, password).session_id
                for device, phone in (("desktop", False), ("mobile", True)):
                    browser.login(url, sessions[login], phone)
                    png, errors = browser.shoot(url + path, selector, steps)
                    target = os.path.join(options.out, f"{name}-{device}.png")
                    data = compress(png)
                    with open(target, "wb") as handle:
                        handle.write(data)
                    say(f"{os.path.relpath(target, REPO)}: {len(data) // 1024} KB")
                    for error in errors:
                        failed = True
                        say(f"  {error}")
        finally:
            browser.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
