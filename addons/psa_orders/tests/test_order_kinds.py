from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged

from .common import PsaOrdersCommon


@tagged("post_install", "-at_install")
class TestOrderKinds(PsaOrdersCommon):
    def _quotation_form(self):
        return Form(self.env["sale.order"].with_user(self.salesman))

    def test_new_engagement_is_the_default(self):
        """A salesperson's quotation is a new engagement unless said otherwise."""
        with self._quotation_form() as form:
            form.partner_id = self.customer
        self.assertEqual(form.record.psa_order_kind, "new_engagement")
        self.assertFalse(form.record.psa_engagement_project_id)

    def test_change_order_needs_its_engagement(self):
        """A change order that does not name the project it changes is refused with the reason."""
        with self.assertRaisesRegex(ValidationError, "choose the engagement"):
            self.env["sale.order"].with_user(self.salesman).create(
                {"partner_id": self.customer.id, "psa_order_kind": "change_increase"}
            )

    def test_change_order_of_another_customer_is_refused(self):
        """An order cannot change an engagement that belongs to another customer."""
        with self.assertRaisesRegex(ValidationError, "belongs to Customer One"):
            self.env["sale.order"].with_user(self.salesman).create(
                {
                    "partner_id": self.other_customer.id,
                    "psa_order_kind": "change_decrease",
                    "psa_engagement_project_id": self.project.id,
                }
            )

    def test_change_order_from_the_project(self):
        """The project's button opens a quotation prefilled as a change order of that project;
        a contact of the customer may order it, and the project counts it."""
        action = self.project.with_user(self.salesman).action_psa_new_change_order()
        form = Form(self.env["sale.order"].with_user(self.salesman).with_context(**action["context"]))
        form.partner_id = self.customer_contact
        with form.order_line.new() as line:
            line.product_id = self.service
            line.product_uom_qty = 8
        order = form.save()
        self.assertEqual(order.psa_order_kind, "change_increase")
        self.assertEqual(order.psa_engagement_project_id, self.project)
        self.assertEqual(self.project.psa_order_count, 1)
        self.assertEqual(
            self.project.action_psa_view_change_orders()["domain"],
            [("psa_engagement_project_id", "=", self.project.id)],
        )
