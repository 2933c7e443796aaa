from odoo.tests import new_test_user

from odoo.addons.base.tests.common import BaseCommon


def draft_credit_note(invoice, reason, user=None):
    """The credit note of ``invoice`` made by Odoo's reversal wizard (still in draft), as ``user``
    (``reason`` may be empty, as the wizard allows)."""
    env = invoice.env(user=user) if user else invoice.env
    reversal = (
        env["account.move.reversal"]
        .with_context(active_model="account.move", active_ids=invoice.ids)
        .create({"journal_id": invoice.journal_id.id, "reason": reason or False})
    )
    return env["account.move"].browse(reversal.refund_moves()["res_id"])


class PsaOrdersCommon(BaseCommon):
    """Fixtures: two customers, an engagement project of the first one, a salesperson, a sales manager,
    an invoicing clerk, an hourly service and a fixed fee billed on order."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.salesman = new_test_user(
            cls.env,
            login="psa_salesman",
            groups="sales_team.group_sale_salesman,project.group_project_user",
        )
        cls.sales_manager = new_test_user(
            cls.env,
            login="psa_sales_manager",
            groups="sales_team.group_sale_manager,project.group_project_user",
        )
        cls.billing_clerk = new_test_user(
            cls.env,
            login="psa_billing_clerk",
            groups="account.group_account_invoice,sales_team.group_sale_salesman",
        )
        cls.customer = cls.env["res.partner"].create({"name": "Customer One", "is_company": True})
        cls.customer_contact = cls.env["res.partner"].create(
            {"name": "Contact of Customer One", "parent_id": cls.customer.id}
        )
        cls.other_customer = cls.env["res.partner"].create({"name": "Customer Two", "is_company": True})
        cls.project = cls.env["project.project"].create(
            {"name": "Customer One - Engagement", "partner_id": cls.customer.id, "allow_billable": True}
        )
        cls.service = cls.env["product.product"].create(
            {
                "name": "Consulting hour",
                "type": "service",
                "invoice_policy": "delivery",
                "service_type": "timesheet",
                "service_tracking": "task_in_project",
                "list_price": 100.0,
            }
        )
        cls.fixed_fee = cls.env["product.product"].create(
            {
                "name": "Assessment (fixed fee)",
                "type": "service",
                "invoice_policy": "order",
                "service_tracking": "no",
                "list_price": 100.0,
                "taxes_id": [(5, 0, 0)],
            }
        )

    @classmethod
    def _create_order(cls, partner, lines, user=None, **values):
        """A quotation for ``partner`` with ``lines`` = [(product, quantity, unit price)]."""
        return (
            cls.env["sale.order"]
            .with_user(user or cls.salesman)
            .create(
                {
                    "partner_id": partner.id,
                    "order_line": [
                        (0, 0, {"product_id": product.id, "product_uom_qty": quantity, "price_unit": price})
                        for product, quantity, price in lines
                    ],
                    **values,
                }
            )
        )
