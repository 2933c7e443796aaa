from odoo.tests import new_test_user, tagged

from odoo.addons.psa_orders.tests.common import draft_credit_note

from .common import PsaTimesheetCommon


@tagged("post_install", "-at_install")
class TestTimeRelease(PsaTimesheetCommon):
    """Only approved time is delivered and invoiced through Odoo's own invoicing wizard."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.biller = new_test_user(
            cls.env,
            login="psa_biller",
            groups="sales_team.group_sale_salesman_all_leads,account.group_account_invoice",
        )
        cls.product = cls.env["product.product"].create(
            {
                "name": "Consulting hour",
                "type": "service",
                "service_type": "timesheet",
                "invoice_policy": "delivery",
                "uom_id": cls.env.ref("uom.product_uom_hour").id,
                "uom_po_id": cls.env.ref("uom.product_uom_hour").id,
                "list_price": 100.0,
            }
        )
        cls.order = cls.env["sale.order"].create(
            {
                "partner_id": cls.customer.id,
                "order_line": [(0, 0, {"product_id": cls.product.id, "product_uom_qty": 20.0})],
            }
        )
        cls.order.action_confirm()
        cls.order_line = cls.order.order_line
        cls.project.write({"allow_billable": True, "sale_line_id": cls.order_line.id})

    def _invoice_through_wizard(self):
        # the wizard's form view holds options Form() cannot evaluate: create it as the view would
        wizard = (
            self.env["sale.advance.payment.inv"]
            .with_user(self.biller)
            .with_context(active_model="sale.order", active_ids=self.order.ids, active_id=self.order.id)
            .create({"advance_payment_method": "delivered"})
        )
        wizard.create_invoices()
        return self.order.invoice_ids.filtered(lambda move: move.state == "draft")

    def test_only_approved_time_is_delivered_and_invoiced(self):
        approved, waiting = self._log_time(3.0), self._log_time(2.0, name="Cabling")
        self.assertEqual(approved.so_line, self.order_line)
        self.assertEqual(self.order_line.qty_delivered, 0.0, "time waiting for approval is not delivered")
        approved.with_user(self.manager).action_psa_approve()
        self.assertEqual(self.order_line.qty_delivered, 3.0)

        invoice = self._invoice_through_wizard()
        self.assertEqual(invoice.invoice_line_ids.quantity, 3.0)
        self.assertEqual(approved.timesheet_invoice_id, invoice)
        self.assertFalse(waiting.timesheet_invoice_id)

        invoice.with_user(self.biller).action_post()
        self.assertEqual(approved.psa_approval_state, "invoiced")
        self.assertEqual(approved.psa_approved_by_id, self.manager, "who approved stays on invoiced time")
        self.assertEqual(waiting.psa_approval_state, "to_approve")

        # the rest is approved later: delivered now, billed on the next invoice only
        waiting.with_user(self.manager).action_psa_approve()
        self.assertEqual(self.order_line.qty_delivered, 5.0)
        self.assertEqual(self.order_line.qty_to_invoice, 2.0)
        second = self._invoice_through_wizard()
        self.assertEqual(second.invoice_line_ids.quantity, 2.0)
        self.assertEqual(waiting.timesheet_invoice_id, second)

    def test_reset_or_cancelled_invoice_gives_the_time_back(self):
        line = self._log_time(4.0)
        line.with_user(self.manager).action_psa_approve()
        invoice = self._invoice_through_wizard()
        invoice.with_user(self.biller).action_post()
        self.assertEqual(line.psa_approval_state, "invoiced")
        invoice.with_user(self.biller).button_draft()
        self.assertEqual(line.psa_approval_state, "approved")
        invoice.with_user(self.biller).action_post()
        self.assertEqual(line.psa_approval_state, "invoiced")
        invoice.with_user(self.biller).button_draft()
        invoice.with_user(self.biller).button_cancel()
        self.assertEqual(line.psa_approval_state, "approved")
        # the time of the cancelled invoice is billed again by the next one
        again = self._invoice_through_wizard()
        self.assertEqual(line.timesheet_invoice_id, again)
        self.assertEqual(again.invoice_line_ids.quantity, 4.0)

    def test_credit_note_gives_the_time_back(self):
        line = self._log_time(4.0)
        line.with_user(self.manager).action_psa_approve()
        invoice = self._invoice_through_wizard()
        invoice.with_user(self.biller).action_post()
        refund = draft_credit_note(invoice, "wrong customer contact", user=self.biller)
        self.assertEqual(line.psa_approval_state, "invoiced", "a draft credit note changes nothing yet")
        refund.with_user(self.biller).action_post()
        self.assertEqual(line.psa_approval_state, "approved")
        again = self._invoice_through_wizard()
        self.assertEqual(line.timesheet_invoice_id, again)
