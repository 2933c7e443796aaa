from odoo.tests import new_test_user, tagged

from .common import PsaOrdersCommon


@tagged("post_install", "-at_install")
class TestRunningAgreement(PsaOrdersCommon):
    """Recurring lines (OCA product_contract) land on the customer's running agreement.

    OCA contract only lets accounting managers create agreements and their lines, so OCA product_contract
    only lets them confirm recurring orders: the orders are confirmed by a salesperson who is also an
    accounting manager."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.finance_lead = new_test_user(
            cls.env,
            login="psa_finance_lead",
            groups="sales_team.group_sale_salesman,account.group_account_manager",
        )
        cls.device = cls.env["product.product"].create(
            {
                "name": "Managed device",
                "type": "service",
                "is_contract": True,
                "recurring_rule_type": "monthly",
                "list_price": 35.0,
            }
        )
        cls.agreement = cls.env["contract.contract"].create(
            {
                "name": "Customer One - Managed services",
                "partner_id": cls.customer.id,
                "line_recurrence": True,
                "contract_line_ids": [
                    (
                        0,
                        0,
                        {
                            "product_id": cls.device.id,
                            "name": "Managed devices",
                            "quantity": 12,
                            "uom_id": cls.device.uom_id.id,
                            "price_unit": 35.0,
                            "recurring_rule_type": "monthly",
                            "recurring_interval": 1,
                            "date_start": "2026-01-01",
                        },
                    )
                ],
            }
        )

    def _contracts(self, partner):
        return self.env["contract.contract"].search([("partner_id", "=", partner.id)])

    def test_recurring_lines_land_on_the_running_agreement(self):
        """Three more devices: a line on the running agreement, no second agreement."""
        order = self._create_order(
            self.customer, [(self.device, 3, 35.0)], user=self.finance_lead, psa_order_kind="work_order"
        )
        order.action_confirm()
        self.assertEqual(self._contracts(self.customer), self.agreement)
        self.assertEqual(order.order_line.contract_id, self.agreement)
        self.assertEqual(sorted(self.agreement.contract_line_ids.mapped("quantity")), [3.0, 12.0])
        self.assertIn("Recurring lines on agreement", order.psa_effect)

    def test_customer_without_agreement_gets_a_new_one(self):
        """Without a running agreement, product_contract's behaviour is kept: one is created."""
        order = self._create_order(self.other_customer, [(self.device, 5, 35.0)], user=self.finance_lead)
        order.action_confirm()
        contract = self._contracts(self.other_customer)
        self.assertEqual(len(contract), 1)
        self.assertEqual(contract.contract_line_ids.quantity, 5.0)

    def test_terminated_agreement_is_not_reused(self):
        self.agreement.date_end = "2026-01-31"
        self.agreement.contract_line_ids.date_end = "2026-01-31"
        order = self._create_order(self.customer, [(self.device, 1, 35.0)], user=self.finance_lead)
        order.action_confirm()
        self.assertEqual(len(self._contracts(self.customer)), 2)
        self.assertNotEqual(order.order_line.contract_id, self.agreement)
