"""Access over XML-RPC: a customer's portal user and a user of another company see only what is theirs.

Two customers of the MSP (company 1), each with a confirmed order, a posted invoice, a prepaid fund, a
device, a ticket and an auto-pay mandate; a billing run of company 1. A portal user of the first customer
and a manager of a second company try to read and change them over XML-RPC. Odoo answers an access error
with the XML-RPC fault code 4 (``AccessError``).
"""

import uuid
import xmlrpc.client
from datetime import date

import pytest
from conftest import create_user

ACCESS_ERROR = 4  # odoo.service.wsgi_server RPC_FAULT_CODE_ACCESS_ERROR

# model -> whether the portal user reads its own customer's record
PORTAL_READS_OWN = {
    "sale.order": True,
    "account.move": True,
    "psa.prepaid.fund": True,
    "psa.payment.mandate": True,
    "helpdesk.ticket": True,
    "psa.device": True,  # psa_rmm: /my/devices under a portal record rule
}
COMPANY_RECORDS = [*PORTAL_READS_OWN, "psa.billing.run"]


def _records_of(admin, localstripe, partner_id, suffix):
    product = admin(
        "product.product",
        "create",
        {"name": f"Access fee {suffix}", "type": "service", "invoice_policy": "order", "taxes_id": [(5, 0, 0)]},
    )
    order = admin("sale.order", "create", {"partner_id": partner_id, "order_line": [(0, 0, {"product_id": product})]})
    admin("sale.order", "action_confirm", [order])
    invoice = admin(
        "account.move",
        "create",
        {
            "move_type": "out_invoice",
            "partner_id": partner_id,
            "invoice_date": str(date.today()),
            "invoice_line_ids": [(0, 0, {"name": "Support", "price_unit": 99.0, "tax_ids": [(5, 0, 0)]})],
        },
    )
    admin("account.move", "action_post", [invoice])
    token_id, _customer = localstripe.save_card(admin, partner_id)
    return {
        "sale.order": order,
        "account.move": invoice,
        "psa.prepaid.fund": admin(
            "psa.prepaid.fund",
            "create",
            {"name": f"Prepaid hours {suffix}", "partner_id": partner_id, "initial_quantity": 10.0},
        ),
        "psa.payment.mandate": admin("psa.payment.mandate", "create", {"partner_id": partner_id, "token_id": token_id}),
        "helpdesk.ticket": admin(
            "helpdesk.ticket",
            "create",
            {"name": f"Printer down {suffix}", "description": "Printer down", "partner_id": partner_id},
        ),
        "psa.device": admin(
            "psa.device", "create", {"name": f"DEV-{suffix}", "partner_id": partner_id, "device_type": "server"}
        ),
    }


@pytest.fixture(scope="module")
def world(admin, odoo_server, localstripe):
    suffix = uuid.uuid4().hex[:6]
    own_id = admin("res.partner", "create", {"name": f"Own Customer {suffix}", "is_company": True})
    other_id = admin("res.partner", "create", {"name": f"Other Customer {suffix}", "is_company": True})
    contact_id = admin("res.partner", "create", {"name": f"Pat Portal {suffix}", "parent_id": own_id})
    own = _records_of(admin, localstripe, own_id, f"own-{suffix}")
    other = _records_of(admin, localstripe, other_id, f"other-{suffix}")
    run = admin("psa.billing.run", "create", {"partner_ids": [(6, 0, [own_id])], "period_end": str(date.today())})
    own["psa.billing.run"] = other["psa.billing.run"] = run
    portal = create_user(admin, odoo_server, "e2e-portal", ["base.group_portal"], partner_id=contact_id)
    company_id = admin("res.company", "create", {"name": f"Second MSP entity {suffix}"})
    second = create_user(
        admin,
        odoo_server,
        "e2e-second-company",
        [
            "base.group_user",
            "sales_team.group_sale_manager",
            "account.group_account_manager",
            "project.group_project_manager",
            "helpdesk_mgmt.group_helpdesk_manager",
        ],
        company_id=company_id,
        company_ids=[(6, 0, [company_id])],
    )
    return {"own": own, "other": other, "portal": portal, "second": second}


def _refused(call, *args, **kwargs):
    with pytest.raises(xmlrpc.client.Fault) as caught:
        call(*args, **kwargs)
    assert caught.value.faultCode == ACCESS_ERROR, caught.value.faultString


@pytest.mark.parametrize("model", [*PORTAL_READS_OWN, "psa.billing.run"])
def test_portal_user_cannot_read_or_change_another_customers_records(world, model):
    portal, record = world["portal"], world["other"][model]
    _refused(portal, model, "read", [record], fields=["display_name"])
    _refused(portal, model, "write", [record], {"name": "changed by another customer"})
    if PORTAL_READS_OWN.get(model):
        assert portal(model, "search", [("id", "=", record)]) == [], "not even listed"


@pytest.mark.parametrize("model", list(PORTAL_READS_OWN))
def test_portal_user_reads_its_own_where_the_portal_allows(world, model):
    portal, record = world["portal"], world["own"][model]
    if PORTAL_READS_OWN[model]:
        assert portal(model, "read", [record], fields=["display_name"])[0]["id"] == record
        assert portal(model, "search", [("id", "=", record)]) == [record]
        _refused(portal, model, "write", [record], {"name": "changed by the customer"})
    else:
        _refused(portal, model, "read", [record], fields=["display_name"])


@pytest.mark.parametrize("model", COMPANY_RECORDS)
def test_other_company_user_cannot_read_or_change_company_records(world, model):
    second, record = world["second"], world["own"][model]
    _refused(second, model, "read", [record], fields=["display_name"])
    _refused(second, model, "write", [record], {"name": "changed by another company"})
    assert second(model, "search", [("id", "=", record)]) == []
