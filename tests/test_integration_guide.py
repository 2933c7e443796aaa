"""``docs/integration.md`` runs: every ```python block of the guide, top to bottom in one namespace (like the
cells of a notebook), against the live test server, as the admin, with localstripe as Stripe. A block that
raises fails its own test (named after the guide's section); the blocks after it are skipped.

The blocks read their connection from ``PSA_GUIDE_*`` environment variables, which this test sets; a reader
copies them with the defaults of ``make run``.
"""

import os
import re
import uuid
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "integration.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
# A block right after this comment is shown, not run (it would log a server error on purpose); the comment
# names the test that checks what the block says instead.
NOT_RUN = "<!-- guide: not run"


def guide_blocks():
    """(section title, line number, code) for each ```python block of the guide."""
    text = GUIDE.read_text(encoding="utf-8")
    blocks = []
    for match in BLOCK.finditer(text):
        before = text[: match.start()]
        if before.rstrip().splitlines()[-1].startswith(NOT_RUN):
            continue
        titles = re.findall(r"^## (.+)$", before, re.MULTILINE)
        blocks.append((titles[-1] if titles else "intro", before.count("\n") + 2, match.group(1)))
    return blocks


BLOCKS = guide_blocks()


@pytest.fixture(scope="module")
def guide_namespace(admin, odoo_server, localstripe):
    env = {
        "PSA_GUIDE_URL": odoo_server.url,
        "PSA_GUIDE_DB": odoo_server.dbname,
        "PSA_GUIDE_USER": admin.login,
        "PSA_GUIDE_PASSWORD": admin.password,
        "PSA_GUIDE_SUFFIX": uuid.uuid4().hex[:6],
        "PSA_GUIDE_STRIPE_API": f"{localstripe.url}/v1",
        "PSA_GUIDE_STRIPE_KEY": "sk_test_psa_e2e",
    }
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    yield {"__name__": "integration_guide", "failed": []}
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def test_guide_has_an_example_per_capability():
    titles = " ".join(title for title, _line, _code in BLOCKS).lower()
    for capability in (
        "leads",
        "change orders",
        "purchase-order",
        "approval",
        "billing runs",
        "mandates",
        "rmm",
        "first e-mail",
        "marshal none",
    ):
        assert capability in titles, f"docs/integration.md has no example for {capability!r}"


@pytest.mark.parametrize(("title", "line", "code"), BLOCKS, ids=[f"L{line}-{title}" for title, line, _code in BLOCKS])
def test_guide_block_runs(guide_namespace, title, line, code):
    if guide_namespace["failed"]:
        pytest.skip(f"an earlier block of the guide failed (line {guide_namespace['failed'][0]})")
    try:
        # the block's line numbers in a traceback count from its first line in the guide (given in the test id)
        exec(compile(code, f"{GUIDE} (block at line {line})", "exec"), guide_namespace)
    except BaseException:
        guide_namespace["failed"].append(line)
        raise
