from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError
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

    def test_start_date_method_of_a_line_on_the_running_agreement(self):
        """A product whose agreement starts at the start of the current period (OCA product_contract's start
        date method): its line on the running agreement starts on the first of the month, as a line of a
        new agreement would (it used to crash OCA's line creation: no start date)."""
        monthly_start = self.env["product.product"].create(
            {
                "name": "Backup (from the 1st)",
                "type": "service",
                "is_contract": True,
                "recurring_rule_type": "monthly",
                "recurrence_interval": "monthly",
                "contract_start_date_method": "start_this",
                "list_price": 20.0,
            }
        )
        order = self._create_order(self.customer, [(monthly_start, 2, 20.0)], user=self.finance_lead)
        with freeze_time("2026-08-15"):
            order.action_confirm()
        self.assertEqual(order.order_line.contract_id, self.agreement)
        added = self.agreement.contract_line_ids.filtered(lambda line: line.product_id == monthly_start)
        self.assertEqual(str(added.date_start), "2026-08-01")

    def test_company_that_creates_agreements_by_hand_links_nothing(self):
        """With agreement creation at confirmation turned off (OCA product_contract's company setting), a
        confirmed order's recurring lines stay off every agreement until someone creates them."""
        self.env.company.create_contract_at_sale_order_confirmation = False
        order = self._create_order(self.customer, [(self.device, 3, 35.0)], user=self.finance_lead)
        order.action_confirm()
        self.assertEqual(order.state, "sale")
        self.assertFalse(order.order_line.contract_id)
        self.assertEqual(len(self.agreement.contract_line_ids), 1)
        self.assertTrue(order.need_contract_creation)

    def test_terminated_agreement_is_not_reused(self):
        self.agreement.date_end = "2026-01-31"
        self.agreement.contract_line_ids.date_end = "2026-01-31"
        order = self._create_order(self.customer, [(self.device, 1, 35.0)], user=self.finance_lead)
        order.action_confirm()
        self.assertEqual(len(self._contracts(self.customer)), 2)
        self.assertNotEqual(order.order_line.contract_id, self.agreement)


@tagged("post_install", "-at_install")
class TestAgreementScopeChange(TestRunningAgreement):
    """A change order on a running agreement changes the quantity of the agreement line of its product from
    the order's start date: the running line stops the day before and a successor carries the new quantity."""

    def _change(self, quantity, user=None, **values):
        order = self._create_order(
            self.customer_contact,
            [(self.device, quantity, 35.0)],
            user=user or self.salesman,
            psa_order_kind="change_increase" if quantity > 0 else "change_decrease",
            psa_engagement_project_id=self.project.id,
            psa_start_date="2026-03-01",
            **values,
        )
        order.with_user(user or self.salesman).action_confirm()
        return order

    def _lines(self):
        return self.agreement.contract_line_ids.sorted("date_start")

    def test_increase_plans_a_successor_with_the_new_quantity(self):
        """Three more devices from March for an order of a contact: the company's agreement goes from 12
        to 15, the running line stops end of February; no second agreement, no second running line."""
        order = self._change(3)
        self.assertEqual(self._contracts(self.customer), self.agreement)
        self.assertEqual(order.order_line.contract_id, self.agreement)
        running, successor = self._lines()
        self.assertEqual(str(running.date_end), "2026-02-28")
        self.assertEqual(running.quantity, 12.0)
        self.assertEqual(str(successor.date_start), "2026-03-01")
        self.assertFalse(successor.date_end)
        self.assertEqual(successor.quantity, 15.0)
        self.assertEqual(running.successor_contract_line_id, successor)
        self.assertIn("goes from 12.0 to 15.0", order.psa_effect)

    def test_decrease_lowers_the_quantity(self):
        self._change(-5)
        self.assertEqual(self._lines().mapped("quantity"), [12.0, 7.0])

    def test_decrease_to_nothing_stops_the_line(self):
        self._change(-12)
        self.assertEqual(len(self._lines()), 1)
        self.assertEqual(str(self._lines().date_end), "2026-02-28")

    def test_decrease_below_zero_is_refused(self):
        with self.assertRaisesRegex(UserError, "only 12.0 run on it"):
            self._change(-13)
        self.assertEqual(len(self._lines()), 1)
        self.assertFalse(self._lines().date_end)

    def test_invoiced_period_is_not_changed(self):
        self.agreement.contract_line_ids.write(
            {"last_date_invoiced": "2026-03-31", "recurring_next_date": "2026-04-01"}
        )
        with self.assertRaisesRegex(UserError, "already invoiced until"):
            self._change(2)
        self.assertEqual(len(self._lines()), 1)

    def test_salesperson_creates_an_agreement(self):
        """A salesperson without accounting rights confirms an order that creates an agreement."""
        self.assertFalse(self.salesman.has_group("account.group_account_manager"))
        order = self._create_order(self.other_customer, [(self.device, 4, 35.0)], user=self.salesman)
        order.with_user(self.salesman).action_confirm()
        self.assertEqual(order.state, "sale")
        self.assertEqual(self._contracts(self.other_customer).contract_line_ids.quantity, 4.0)

    def test_other_users_orders_stay_out_of_reach(self):
        """The superuser step only runs for orders the user may change."""
        order = self._create_order(self.other_customer, [(self.device, 4, 35.0)], user=self.sales_manager)
        order.user_id = self.sales_manager
        with self.assertRaises(AccessError):
            order.with_user(self.salesman).action_create_contract()
        self.assertFalse(self._contracts(self.other_customer))
