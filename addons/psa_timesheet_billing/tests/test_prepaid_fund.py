from unittest.mock import patch

from freezegun import freeze_time

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import PsaTimesheetCommon


@tagged("post_install", "-at_install")
@freeze_time("2026-11-23")
class TestPrepaidFund(PsaTimesheetCommon):
    """A customer prepays 10 support hours; approved time draws them down by itself."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account_manager = new_test_user(
            cls.env, login="psa_fund_am", groups="account.group_account_invoice,hr_timesheet.group_hr_timesheet_user"
        )
        cls.fund = (
            cls.env["psa.prepaid.fund"]
            .with_user(cls.account_manager)
            .create(
                {
                    "name": "10 support hours",
                    "partner_id": cls.customer.id,
                    "unit": "hours",
                    "initial_quantity": 10.0,
                    "low_balance_threshold": 2.0,
                    "date_start": "2026-11-01",
                    "date_end": "2026-11-30",
                    "user_id": cls.account_manager.id,
                }
            )
        )

    def _approved_time(self, hours, day="2026-11-20"):
        line = self._log_time(hours)
        line.with_user(self.consultant).write({"date": day})
        line.with_user(self.manager).action_psa_approve()
        return line

    def _draw(self):
        self.env["psa.prepaid.fund"]._cron_draw_down(batch_size=100)

    def test_only_approved_time_is_drawn_once(self):
        approved = self._approved_time(3.0)
        waiting = self._log_time(1.0)
        before_period = self._approved_time(1.0, day="2026-10-31")
        self._draw()
        self._draw()
        self.assertEqual(approved.psa_drawdown_ids.fund_id, self.fund)
        self.assertFalse(waiting.psa_drawdown_ids)
        self.assertFalse(before_period.psa_drawdown_ids, "time before the fund's period is not drawn")
        self.assertEqual(self.fund.consumed_quantity, 3.0)
        self.assertEqual(self.fund.remaining_quantity, 7.0)
        self.assertEqual(self.customer.psa_prepaid_remaining, 7.0)
        self.assertEqual(self.project.psa_prepaid_remaining, 7.0)
        # a reset line gives its hours back
        approved.with_user(self.manager).action_psa_reset()
        self.assertEqual(self.fund.remaining_quantity, 10.0)

    def test_an_extension_of_the_drawable_domain_rules_the_approval_too(self):
        """Draw-down on approval and the cron go through ``_get_drawable_timesheet_domain``."""
        fund_class = type(self.env["psa.prepaid.fund"])
        original = fund_class._get_drawable_timesheet_domain

        def long_entries_only(fund_model, fund):
            return [*original(fund_model, fund), ("unit_amount", ">=", 2.0)]

        with patch.object(fund_class, "_get_drawable_timesheet_domain", long_entries_only):
            short = self._approved_time(1.0)
            long_entry = self._approved_time(3.0)
            self.assertFalse(short.psa_drawdown_ids, "the extension keeps short entries off the fund")
            self.assertEqual(long_entry.psa_drawdown_ids.fund_id, self.fund)
            self._draw()
            self.assertFalse(short.psa_drawdown_ids)
        self.assertEqual(self.fund.consumed_quantity, 3.0)

    def test_amount_fund_is_drawn_at_its_rate(self):
        money = self.fund.copy({"name": "1,000 prepaid", "unit": "amount", "initial_quantity": 1000.0})
        money.hourly_rate = 150.0
        self.fund.state = "settled"  # only the amount fund is open
        line = self._approved_time(3.0)
        self._draw()
        self.assertEqual(line.psa_drawdown_ids.fund_id, money)
        self.assertEqual(money.consumed_quantity, 450.0)
        self.assertEqual(money.remaining_quantity, 550.0)

    def test_low_balance_activity_overage_and_exhaustion(self):
        self._approved_time(7.0)
        self._draw()
        self.assertFalse(self.fund.activity_ids)
        self._approved_time(2.0, day="2026-11-21")
        self._draw()
        self.assertEqual(self.fund.activity_ids.user_id, self.account_manager)
        self.assertIn("Low prepaid balance", self.fund.activity_ids.summary)
        self._approved_time(3.0, day="2026-11-22")
        self._draw()
        self.assertEqual(self.fund.overage_quantity, 2.0)
        self.assertEqual(self.fund.remaining_quantity, 0.0)
        self.assertEqual(self.fund.state, "exhausted")
        self.assertIn("beyond the prepaid balance", self.fund.message_ids.mapped("body")[1])
        self.assertEqual(len(self.fund.activity_ids), 1, "one low-balance activity, not one per run")

    def test_settlement_expire_and_carry_over(self):
        self._approved_time(4.0)
        self._draw()
        carried = self.fund.copy({"name": "Carried fund", "settlement_policy": "carry_over"})
        with freeze_time("2026-12-01"):
            settled = self.env["psa.prepaid.fund"]._cron_settle_funds()
        self.assertIn(self.fund, settled)
        self.assertEqual(self.fund.state, "settled")
        self.assertEqual(self.fund.settlement_note, "settled: 6.0 unused, expired")
        self.assertEqual(carried.state, "settled")
        successor = self.env["psa.prepaid.fund"].search([("carried_from_id", "=", carried.id)])
        self.assertEqual(successor.initial_quantity, 10.0)
        self.assertEqual(str(successor.date_start), "2026-12-01")
        self.assertEqual(successor.state, "open")
        with freeze_time("2026-12-01"):
            self.assertFalse(self.env["psa.prepaid.fund"]._cron_settle_funds(), "a settled fund is not settled twice")

    def test_portal_user_sees_only_own_balance(self):
        other_customer = self.env["res.partner"].create({"name": "Other customer", "is_company": True})
        other_fund = self.fund.copy({"name": "Other's hours", "partner_id": other_customer.id})
        contact = self.env["res.partner"].create({"name": "Portal contact", "parent_id": self.customer.id})
        portal = new_test_user(self.env, login="psa_fund_portal", groups="base.group_portal", partner_id=contact.id)
        visible = self.env["psa.prepaid.fund"].with_user(portal).search([])
        self.assertEqual(visible, self.fund)
        with self.assertRaises(AccessError):
            other_fund.with_user(portal).read(["remaining_quantity"])
        with self.assertRaises(AccessError):
            self.fund.with_user(portal).write({"initial_quantity": 100.0})

    def test_confirmed_order_line_opens_a_fund(self):
        hour = self.env.ref("uom.product_uom_hour")
        block = self.env["product.product"].create(
            {
                "name": "Support block (hours)",
                "type": "service",
                "invoice_policy": "order",
                "uom_id": hour.id,
                "uom_po_id": hour.id,
                "list_price": 90.0,
                "psa_prepaid_fund_unit": "hours",
            }
        )
        order = self.env["sale.order"].create(
            {"partner_id": self.customer.id, "order_line": [(0, 0, {"product_id": block.id, "product_uom_qty": 20})]}
        )
        order.action_confirm()
        fund = self.env["psa.prepaid.fund"].search([("sale_line_id", "=", order.order_line.id)])
        self.assertEqual(fund.partner_id, self.customer)
        self.assertEqual(fund.unit, "hours")
        self.assertEqual(fund.initial_quantity, 20.0)
        self.assertFalse(order.order_line._psa_create_prepaid_funds(), "a line opens one fund only")

    def test_prepaid_time_is_not_billed_again_only_the_overage(self):
        """The fund paid for its hours already: the order line bills only the time beyond it."""
        hour = self.env.ref("uom.product_uom_hour")
        consulting = self.env["product.product"].create(
            {
                "name": "Consulting hour",
                "type": "service",
                "service_type": "timesheet",
                "invoice_policy": "delivery",
                "uom_id": hour.id,
                "uom_po_id": hour.id,
                "list_price": 120.0,
            }
        )
        order = self.env["sale.order"].create(
            {"partner_id": self.customer.id, "order_line": [(0, 0, {"product_id": consulting.id})]}
        )
        order.action_confirm()
        self.project.write({"allow_billable": True, "sale_line_id": order.order_line.id})
        first = self._approved_time(6.0)
        self.assertEqual(first.psa_drawdown_ids.fund_id, self.fund, "drawn as soon as it is approved")
        self.assertEqual(order.order_line.qty_delivered, 0.0)
        self._approved_time(6.0, day="2026-11-21")
        self.assertEqual(self.fund.overage_quantity, 2.0)
        self.assertEqual(order.order_line.qty_delivered, 2.0, "only the overage is billed, at the order's rate")
        self.assertEqual(order.order_line.qty_to_invoice, 2.0)
