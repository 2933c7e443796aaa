"""First smoke test: an integrator logs in over XML-RPC and reads the suite's modules."""

import ast
import pathlib
import xmlrpc.client

import pytest

PSA_MODULES = ["psa_orders", "psa_payments", "psa_rmm", "psa_timesheet_billing"]


def test_server_reports_odoo_18(odoo_server):
    common = xmlrpc.client.ServerProxy(f"{odoo_server.url}/xmlrpc/2/common")
    assert common.version()["server_version_info"][0] == 18


def test_admin_reads_installed_psa_modules(admin):
    modules = admin(
        "ir.module.module",
        "search_read",
        [("name", "in", PSA_MODULES)],
        fields=["name", "state", "latest_version"],
        order="name",
    )
    assert [m["name"] for m in modules] == PSA_MODULES
    assert {m["state"] for m in modules} == {"installed"}
    # the version each manifest declares is the one installed (a migration bumps it)
    addons = pathlib.Path(__file__).resolve().parent.parent / "addons"
    declared = {
        name: ast.literal_eval((addons / name / "__manifest__.py").read_text())["version"] for name in PSA_MODULES
    }
    assert {m["name"]: m["latest_version"] for m in modules} == declared
    assert all(version.startswith("18.0.") for version in declared.values())


def test_wrong_password_is_refused(odoo_server):
    common = xmlrpc.client.ServerProxy(f"{odoo_server.url}/xmlrpc/2/common")
    assert not common.authenticate(odoo_server.dbname, "admin", "not-the-password", {})


def test_order_kind_over_xmlrpc(admin):
    """The order kind is part of the public API: a change order without its engagement is refused."""
    partner_id = admin("res.partner", "create", {"name": "XML-RPC Customer", "is_company": True})
    with pytest.raises(xmlrpc.client.Fault, match="choose the engagement"):
        admin("sale.order", "create", {"partner_id": partner_id, "psa_order_kind": "rate_change"})
    assert not admin("sale.order", "search", [("partner_id", "=", partner_id)])
