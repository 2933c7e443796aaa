from freezegun import freeze_time

from odoo.exceptions import UserError
from odoo.tests import Form, new_test_user, tagged

from .common import PsaTimesheetCommon


@tagged("post_install", "-at_install")
@freeze_time("2026-11-23")
class TestPrepaidTopup(PsaTimesheetCommon):
    """Contoso bought 10 support hours at 90; when 2 hours or fewer are left a top-up of 5 is offered."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account_manager = new_test_user(
            cls.env,
            login="psa_topup_am",
            groups="account.group_account_invoice,sales_team.group_sale_salesman,hr_timesheet.group_hr_timesheet_user",
        )
        hour = cls.env.ref("uom.product_uom_hour")
        cls.block = cls.env["product.product"].create(
            {
                "name": "Support block (hours)",
                "type": "service",
                "invoice_policy": "order",
                "uom_id": hour.id,
                "uom_po_id": hour.id,
                "list_price": 100.0,
                "psa_prepaid_fund_unit": "hours",
            }
        )
        order = cls.env["sale.order"].create(
            {
                "partner_id": cls.customer.id,
                "user_id": cls.account_manager.id,
                "order_line": [(0, 0, {"product_id": cls.block.id, "product_uom_qty": 10, "price_unit": 90.0})],
            }
        )
        order.action_confirm()
        cls.fund = cls.env["psa.prepaid.fund"].search([("sale_line_id", "=", order.order_line.id)])
        cls.fund.write({"date_start": "2026-11-01", "date_end": "2026-11-30", "low_balance_threshold": 2.0})
        with Form(cls.fund.with_user(cls.account_manager)) as form:
            form.topup_enabled = True
            form.topup_quantity = 5.0

    def _approved_time(self, hours, day="2026-11-20"):
        line = self._log_time(hours)
        line.with_user(self.consultant).write({"date": day})
        line.with_user(self.manager).action_psa_approve()
        return line

    def test_low_balance_raises_one_quotation_at_the_fund_rate(self):
        self._approved_time(7.0)
        self.assertFalse(self.fund.topup_order_ids, "3 h left is above the threshold")
        self._approved_time(1.5, day="2026-11-21")
        quotation = self.fund.topup_order_ids
        self.assertEqual(len(quotation), 1)
        self.assertEqual(quotation.state, "draft")
        self.assertEqual(quotation.partner_id, self.customer)
        self.assertEqual(quotation.order_line.product_id, self.block)
        self.assertEqual(quotation.order_line.product_uom_qty, 5.0)
        self.assertEqual(quotation.order_line.price_unit, 90.0, "the rate the customer bought the fund at")
        self.assertEqual(quotation.activity_ids.user_id, self.account_manager)
        self.assertIn("1.5 hours left", quotation.activity_ids.note)
        self.assertIn(
            "top-up quotation raised automatically: 1.5 hours left", self.fund.message_ids[0].body, "reason on the fund"
        )
        self.assertFalse(self.fund.activity_ids, "the activity is on the quotation, not twice")
        # more time, both jobs again: still one open quotation
        self._approved_time(1.0, day="2026-11-22")
        self.env["psa.prepaid.fund"]._cron_draw_down(batch_size=100)
        self.env["psa.prepaid.fund"]._cron_draw_down(batch_size=100)
        self.assertEqual(len(self.fund.topup_order_ids), 1)
        with self.assertRaisesRegex(UserError, "already open"):
            self.fund.with_user(self.account_manager).action_psa_raise_topup()

    def test_confirming_the_quotation_adds_the_hours_once(self):
        self._approved_time(9.0)
        quotation = self.fund.topup_order_ids
        quotation.with_user(self.account_manager).action_confirm()
        self.assertEqual(self.fund.initial_quantity, 15.0)
        self.assertEqual(self.fund.remaining_quantity, 6.0)
        self.assertTrue(quotation.order_line.psa_topup_applied)
        self.assertFalse(
            self.env["psa.prepaid.fund"].search([("sale_line_id", "=", quotation.order_line.id)]),
            "a top-up line does not open a second fund",
        )
        self.assertIn("topped up by 5.0 with", self.fund.message_ids[0].body)
        # a retried confirmation, or a second transaction reaching the claim: nothing is added again
        quotation.order_line._psa_apply_topups()
        self.assertFalse(self.env["sale.order.line"]._psa_claim_topups(quotation.order_line))
        self.assertEqual(self.fund.initial_quantity, 15.0)

    def test_exhausted_fund_reopens_and_overage_stays_billed(self):
        self._approved_time(12.0)
        self.assertEqual(self.fund.state, "exhausted")
        self.assertEqual(self.fund.overage_quantity, 2.0)
        self.fund.topup_order_ids.with_user(self.account_manager).action_confirm()
        self.assertEqual(self.fund.state, "open")
        self.assertEqual(self.fund.remaining_quantity, 5.0, "the 2 h overage was billed: the top-up is not used for it")
        self.assertEqual(self.fund.overage_quantity, 2.0)

    def test_declined_quotation_is_not_raised_again_by_the_job(self):
        self._approved_time(9.0)
        self.fund.topup_order_ids.with_user(self.account_manager)._action_cancel()
        self._approved_time(0.5, day="2026-11-21")
        self.env["psa.prepaid.fund"]._cron_draw_down(batch_size=100)
        self.assertEqual(len(self.fund.topup_order_ids), 1, "the customer declined: a person decides")
        self.fund.with_user(self.account_manager).action_psa_raise_topup()
        self.assertEqual(len(self.fund.topup_order_ids), 2)
        self.assertIn("raised by", self.fund.topup_order_ids.sorted("id")[-1].message_ids.mapped("body")[0])

    def test_top_up_of_a_settled_fund_goes_to_its_successor(self):
        self.fund.settlement_policy = "carry_over"
        self._approved_time(9.0)
        quotation = self.fund.topup_order_ids
        with freeze_time("2026-12-01"):
            self.env["psa.prepaid.fund"]._cron_settle_funds()
            successor = self.env["psa.prepaid.fund"].search([("carried_from_id", "=", self.fund.id)])
            self.assertEqual(successor.initial_quantity, 1.0)
            self.assertTrue(successor.topup_enabled)
            quotation.with_user(self.account_manager).action_confirm()
        self.assertEqual(self.fund.initial_quantity, 10.0)
        self.assertEqual(successor.initial_quantity, 6.0)

    def test_top_up_of_an_expired_fund_opens_a_new_fund(self):
        self._approved_time(9.0)
        quotation = self.fund.topup_order_ids
        with freeze_time("2026-12-01"):
            self.env["psa.prepaid.fund"]._cron_settle_funds()
            quotation.with_user(self.account_manager).action_confirm()
        new_fund = self.env["psa.prepaid.fund"].search([("sale_line_id", "=", quotation.order_line.id)])
        self.assertEqual(new_fund.initial_quantity, 5.0)
        self.assertEqual(new_fund.state, "open")
        self.assertEqual(str(new_fund.date_start), "2026-12-01")
        self.assertIn("had expired", self.fund.message_ids[0].body)

    def test_company_default_and_product_required(self):
        self.env.company.psa_prepaid_topup = True
        fund = self.env["psa.prepaid.fund"].create(
            {"name": "New", "partner_id": self.customer.id, "initial_quantity": 5.0, "topup_product_id": self.block.id}
        )
        self.assertTrue(fund.topup_enabled)
        with self.assertRaisesRegex(Exception, "choose the top-up product"):
            self.env["psa.prepaid.fund"].create(
                {"name": "No product", "partner_id": self.customer.id, "initial_quantity": 5.0}
            )

    def test_fund_form_opens_for_an_invoicing_user_without_sales_rights(self):
        clerk = new_test_user(self.env, login="psa_topup_clerk", groups="account.group_account_invoice")
        self._approved_time(9.0)
        form = Form(self.fund.with_user(clerk))
        self.assertEqual(form.remaining_quantity, 1.0)
