from odoo.tests import tagged

from .common import PsaOrdersCommon


@tagged("post_install", "-at_install")
class TestRegisteredPoSearch(PsaOrdersCommon):
    """Customer One registered PO-100. A salesperson filters quotations by their registered PO: the
    customer's own orders and its contact's carrying PO-100 (even typed with spaces) are found; Customer
    Two's order with the same reference, an unregistered PO-200 and an order without a reference are
    not. A PO registered later finds the orders that already carried it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.po = cls.env["psa.customer.po"].create({"name": "PO-100", "partner_id": cls.customer.id})
        lines = [(cls.fixed_fee, 1, 100.0)]
        cls.own = cls._create_order(cls.customer, lines, client_order_ref="PO-100")
        cls.by_contact = cls._create_order(cls.customer_contact, lines, client_order_ref="PO-100")
        cls.with_spaces = cls._create_order(cls.customer, lines, client_order_ref="  PO-100 ")
        cls.other_customer_order = cls._create_order(cls.other_customer, lines, client_order_ref="PO-100")
        cls.unregistered = cls._create_order(cls.customer, lines, client_order_ref="PO-200")
        cls.without_reference = cls._create_order(cls.customer, lines)
        cls.orders = (
            cls.own | cls.by_contact | cls.with_spaces | cls.other_customer_order | cls.unregistered
        ) | cls.without_reference

    def _search(self, *domain):
        return self.env["sale.order"].with_user(self.salesman).search([("id", "in", self.orders.ids), *domain])

    def test_search_finds_the_orders_the_field_shows(self):
        under_po = self.own | self.by_contact | self.with_spaces
        self.assertEqual(self._search(("psa_customer_po_id", "=", self.po.id)), under_po)
        self.assertEqual(self._search(("psa_customer_po_id", "in", self.po.ids)), under_po)
        self.assertEqual(self._search(("psa_customer_po_id", "ilike", "po-10")), under_po)
        self.assertEqual(self._search(("psa_customer_po_id.name", "=", "PO-100")), under_po)
        self.assertEqual(self._search(("psa_customer_po_id", "!=", False)), under_po)
        without = self.other_customer_order | self.unregistered | self.without_reference
        self.assertEqual(self._search(("psa_customer_po_id", "=", False)), without)
        self.assertEqual(self._search(("psa_customer_po_id", "not in", self.po.ids)), without)
        # the search and the field agree, order by order
        for order in self.orders.with_user(self.salesman):
            self.assertEqual(order.psa_customer_po_id == self.po, order in under_po, order.client_order_ref)

    def test_po_registered_later_finds_its_orders(self):
        self.assertFalse(self._search(("psa_customer_po_id.name", "=", "PO-200")))
        po_200 = (
            self.env["psa.customer.po"]
            .with_user(self.sales_manager)
            .create({"name": "PO-200", "partner_id": self.customer_contact.id, "amount_cap": 500.0})
        )
        self.assertEqual(self._search(("psa_customer_po_id", "=", po_200.id)), self.unregistered)
        self.assertEqual(self.unregistered.with_user(self.salesman).psa_po_amount_remaining, 500.0)

    def test_archived_po_is_no_longer_found(self):
        self.po.active = False
        self.assertFalse(self._search(("psa_customer_po_id", "!=", False)))
        self.assertFalse(self.own.with_user(self.salesman).psa_customer_po_id)
