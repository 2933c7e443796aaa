from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, HttpCase, tagged

from .common import PsaOrdersCommon, draft_credit_note


class PoComplianceCommon(PsaOrdersCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer.psa_po_policy = "always"
        cls.po = cls.env["psa.customer.po"].create(
            {"name": "PO-100", "partner_id": cls.customer_contact.id, "amount_cap": 1000.0, "date_expiry": "2026-06-30"}
        )


@tagged("post_install", "-at_install")
@freeze_time("2026-05-04")
class TestPoCompliance(PoComplianceCommon):
    def test_po_always_required(self):
        """A customer that always requires a PO: the order without one is refused, naming the rule."""
        order = self._create_order(self.customer_contact, [(self.fixed_fee, 1, 200.0)])
        with self.assertRaisesRegex(UserError, "Customer One requires a purchase order reference on every order"):
            order.action_confirm()
        self.assertEqual(order.state, "draft")
        order.client_order_ref = "PO-100"
        order.action_confirm()
        self.assertEqual(order.state, "sale")

    def test_po_required_above_an_amount(self):
        """Only orders above the threshold need a PO."""
        self.other_customer.write({"psa_po_policy": "above", "psa_po_threshold": 1000.0})
        small = self._create_order(self.other_customer, [(self.fixed_fee, 10, 100.0)])
        big = self._create_order(self.other_customer, [(self.fixed_fee, 11, 100.0)])
        small.action_confirm()
        self.assertEqual(small.state, "sale")
        with self.assertRaisesRegex(UserError, r"reference above .*1,000\.00.*PO required above an amount"):
            big.action_confirm()
        self.assertEqual(big.state, "draft")

    def test_po_cap_consumed_and_remaining(self):
        """Confirmed orders consume the PO; the one that would exceed its cap is refused with what remains."""
        first = self._create_order(self.customer, [(self.fixed_fee, 8, 100.0)], client_order_ref="PO-100")
        second = self._create_order(self.customer_contact, [(self.fixed_fee, 3, 100.0)], client_order_ref="PO-100")
        self.assertEqual(second.psa_customer_po_id, self.po)
        first.action_confirm()
        self.assertEqual(self.po.amount_consumed, 800.0)
        self.assertEqual(self.po.amount_remaining, 200.0)
        self.assertEqual(self.po.order_ids, first)
        self.assertEqual(second.psa_po_amount_remaining, 200.0)
        with self.assertRaisesRegex(UserError, r"exceed purchase order PO-100 .*200\.00 remaining .*PO value cap"):
            second.action_confirm()
        self.assertEqual(second.state, "draft")
        self.assertEqual(self.po.amount_consumed, 800.0)

    def test_po_expired(self):
        """No order may be confirmed under a PO after its expiry date."""
        order = self._create_order(self.customer, [(self.fixed_fee, 1, 100.0)], client_order_ref="PO-100")
        with freeze_time("2026-07-01"), self.assertRaisesRegex(UserError, "PO-100 of Customer One expired on"):
            order.action_confirm()
        self.assertEqual(order.state, "draft")

    def test_refused_order_leaves_no_project(self):
        """A refused confirmation creates no project and no task."""
        order = self._create_order(self.customer, [(self.service, 20, 100.0)], client_order_ref="PO-100")
        projects_before = self.env["project.project"].search_count([])
        with self.assertRaises(UserError):
            order.action_confirm()
        self.assertEqual(self.env["project.project"].search_count([]), projects_before)
        self.assertFalse(order.order_line.task_id)
        self.assertFalse(order.project_ids)

    def test_invoice_carries_po_and_is_checked(self):
        """The invoice of an order carries its PO; if the reference is lost it is put back and said so."""
        order = self._create_order(self.customer, [(self.fixed_fee, 5, 100.0)], client_order_ref="PO-100")
        order.action_confirm()
        invoice = order.with_user(self.billing_clerk)._create_invoices()
        self.assertEqual(invoice.ref, "PO-100")
        invoice.ref = False
        invoice.action_post()
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(invoice.ref, "PO-100")
        self.assertIn("completed automatically with PO-100", "".join(invoice.message_ids.mapped("body")))

    def test_invoice_without_po_refused(self):
        """A hand-made invoice for a customer that always requires a PO cannot be posted without one."""
        invoice = self._manual_invoice(500.0)
        with self.assertRaisesRegex(UserError, "PO always required"):
            invoice.action_post()
        self.assertEqual(invoice.state, "draft")
        invoice.ref = "PO-100"
        invoice.action_post()
        self.assertEqual(invoice.state, "posted")

    def test_invoice_under_expired_or_exhausted_po_refused(self):
        """Invoices under a PO respect its expiry date and its cap (refunds give room back)."""
        late = self._manual_invoice(100.0, ref="PO-100", invoice_date="2026-07-01")
        with self.assertRaisesRegex(UserError, "PO-100 of Customer One expired"):
            late.action_post()
        first = self._manual_invoice(900.0, ref="PO-100")
        first.action_post()
        second = self._manual_invoice(200.0, ref="PO-100")
        with self.assertRaisesRegex(UserError, r"PO-100 .*100\.00 remaining"):
            second.action_post()
        self.assertEqual(second.state, "draft")

    def test_credit_note_reversing_an_invoice_gives_its_po_room_back(self):
        """A credit note made by Odoo's reversal wizard names the invoice, not the PO ("Reversal of:
        <invoice>[, <reason>]"): it still gives the room of the invoice it reverses back to that PO (a
        partial one, its own amount), with or without a reason."""
        first = self._manual_invoice(900.0, ref="PO-100")
        first.action_post()
        second = self._manual_invoice(500.0, ref="PO-100")
        with self.assertRaisesRegex(UserError, r"PO-100 .*100\.00 remaining"):
            second.action_post()
        for reason, amount, remaining in (("wrong amount", 250.0, "350.00"), (None, 100.0, "450.00")):
            refund = draft_credit_note(first, reason, user=self.billing_clerk)
            refund.invoice_line_ids.price_unit = amount
            refund.action_post()
            self.assertNotIn("PO-100", refund.ref or "")
            with self.assertRaisesRegex(UserError, rf"PO-100 .*{remaining} remaining"):
                second.action_post()
        self.assertEqual(second.state, "draft")
        second.invoice_line_ids.price_unit = 450.0
        second.action_post()
        self.assertEqual(second.state, "posted")

    def _manual_invoice(self, amount, **values):
        form = Form(
            self.env["account.move"].with_user(self.billing_clerk).with_context(default_move_type="out_invoice")
        )
        form.partner_id = self.customer
        form.invoice_date = values.pop("invoice_date", "2026-05-04")
        if "ref" in values:
            form.ref = values.pop("ref")
        with form.invoice_line_ids.new() as line:
            line.product_id = self.fixed_fee
            line.price_unit = amount
            line.tax_ids.clear()
        return form.save()

    def test_only_managers_change_the_policy(self):
        """A salesperson can neither read nor change the PO policy, nor register a PO; a manager can."""
        with self.assertRaises(AccessError):
            self.customer.with_user(self.salesman).write({"psa_po_policy": "never"})
        with self.assertRaises(AccessError):
            self.env["psa.customer.po"].with_user(self.salesman).create(
                {"name": "PO-X", "partner_id": self.customer.id}
            )
        self.customer.with_user(self.sales_manager).write({"psa_po_policy": "above", "psa_po_threshold": 50.0})
        self.assertEqual(self.customer.psa_po_policy, "above")
        self.assertEqual(self.po.with_user(self.salesman).amount_remaining, 1000.0)


@tagged("post_install", "-at_install")
class TestPoComplianceXmlRpc(PoComplianceCommon, HttpCase):
    def test_xmlrpc_confirmation_is_refused(self):
        """An integrator confirming over XML-RPC gets the same refusal, and the order stays a quotation."""
        self.po.date_expiry = False  # the HTTP server runs at today's date
        order = self._create_order(self.customer, [(self.fixed_fee, 1, 100.0)])
        uid = self.salesman.id
        with self.assertRaisesRegex(Exception, "PO always required"):
            self.xmlrpc_object.execute_kw(
                self.env.cr.dbname, uid, "psa_salesman", "sale.order", "action_confirm", [[order.id]]
            )
        self.assertEqual(order.state, "draft")
        order.client_order_ref = "PO-100"
        self.xmlrpc_object.execute_kw(
            self.env.cr.dbname, uid, "psa_salesman", "sale.order", "action_confirm", [[order.id]]
        )
        order.invalidate_recordset()
        self.assertEqual(order.state, "sale")
