from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestChangeOrderTours(HttpCase):
    """A project manager raises a change order from the engagement and finds it attached to it, on a desk and
    on a phone. Lowest rights that work: Project user, Timesheets "own" (Allocated Time is a timesheet field),
    Sales "all documents" (the engagements' orders are the salespeople's: "own documents" cannot open them)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env,
            login="tour_project_manager",
            name="Tour Project Manager",
            groups="project.group_project_user,sales_team.group_sale_salesman_all_leads,hr_timesheet.group_hr_timesheet_user",
        )
        cls.customer = cls.env["res.partner"].create({"name": "Tour Contoso", "is_company": True})
        hours = cls.env.ref("uom.product_uom_hour")
        consulting = cls.env["product.product"].create(
            {
                "name": "Tour migration consulting",
                "type": "service",
                "invoice_policy": "delivery",
                "service_type": "timesheet",
                "service_tracking": "task_in_project",
                "list_price": 150.0,
                "uom_id": hours.id,
                "uom_po_id": hours.id,
            }
        )
        cls.extra = cls.env["product.product"].create(
            {
                "name": "Tour extra site survey",
                "type": "service",
                "invoice_policy": "delivery",
                "service_type": "timesheet",
                "service_tracking": "task_in_project",
                "list_price": 150.0,
                "uom_id": hours.id,
                "uom_po_id": hours.id,
            }
        )
        cls.project = cls.env["project.project"].create(
            {
                "name": "Tour Contoso migration",
                "partner_id": cls.customer.id,
                "allow_billable": True,
                "user_id": cls.manager.id,
            }
        )
        # the engagement as an order builds it on the project chosen on the quotation: 36 h planned
        order = cls.env["sale.order"].create(
            {
                "partner_id": cls.customer.id,
                "psa_order_kind": "new_engagement",
                "project_id": cls.project.id,
                "order_line": [(0, 0, {"product_id": consulting.id, "product_uom_qty": 36, "price_unit": 150.0})],
            }
        )
        order.action_confirm()

    def _assert_change_order(self):
        change = self.env["sale.order"].search([("psa_engagement_project_id", "=", self.project.id)])
        self.assertEqual(len(change), 1)
        self.assertEqual(change.psa_order_kind, "change_increase")
        self.assertEqual(change.partner_id, self.customer)
        self.assertEqual(change.user_id, self.manager)
        self.assertEqual(change.order_line.product_id, self.extra)
        self.assertEqual(self.project.psa_order_count, 1)

    def test_project_manager_desktop(self):
        self.assertEqual(self.project.allocated_hours, 36.0)
        self.start_tour(
            "/odoo/action-psa_orders.action_psa_engagements", "psa_change_order_desktop", login=self.manager.login
        )
        self._assert_change_order()

    def test_project_manager_mobile(self):
        self.browser_size = "390x844"
        self.touch_enabled = True
        self.start_tour(
            "/odoo/action-psa_orders.action_psa_engagements", "psa_change_order_mobile", login=self.manager.login
        )
        self._assert_change_order()
