"""What ``make run`` and ``make test`` say before they start anything, when this machine lacks what Odoo needs:
wkhtmltopdf (PDFs), chromium (browser tests), or a pyOpenSSL that imports (cryptography upgraded past Odoo's
pin by the editable install). Each case names the fix and exits before a database is created."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

PSA_DEV = Path(__file__).resolve().parents[1] / "scripts" / "psa_dev.py"


def _run(command, tmp_path, **env):
    return subprocess.run(
        [sys.executable, str(PSA_DEV), command, "--no-install"],
        env={**os.environ, "PSA_HTTP_PORT": "8069", **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(("command", "packages"), [("run", ["wkhtmltopdf"]), ("test", ["wkhtmltopdf", "chromium"])])
def test_missing_programs_are_named_with_their_debian_package(tmp_path, command, packages):
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    proc = _run(command, tmp_path, PATH=str(empty_bin))
    assert proc.returncode == 6, proc.stderr
    for package in packages:
        assert f"{package} not found on PATH" in proc.stderr
    assert f"sudo apt-get install {' '.join(packages)}" in proc.stderr
    assert "PostgreSQL up" not in proc.stdout, "nothing was started"


def test_pyopenssl_broken_by_a_newer_cryptography_names_the_pins(tmp_path):
    fake = tmp_path / "site" / "OpenSSL"
    fake.mkdir(parents=True)
    # What pyOpenSSL 21.0.0 raises when cryptography was upgraded under it.
    (fake / "__init__.py").write_text(
        "raise AttributeError(\"module 'lib' has no attribute 'X509_V_FLAG_CB_ISSUER_CHECK'\")\n"
    )
    proc = _run("run", tmp_path, PYTHONPATH=str(tmp_path / "site"))
    assert proc.returncode == 3, proc.stderr
    assert "pip install cryptography==3.4.8 pyopenssl==21.0.0" in proc.stderr
    assert "X509_V_FLAG_CB_ISSUER_CHECK" in proc.stderr
