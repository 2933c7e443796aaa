from odoo.tests import new_test_user

from odoo.addons.base.tests.common import BaseCommon


class PsaOrdersCommon(BaseCommon):
    """Fixtures: two customers, an engagement project of the first one, a salesperson."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.salesman = new_test_user(
            cls.env,
            login="psa_salesman",
            groups="sales_team.group_sale_salesman,project.group_project_user",
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
