from odoo.tests import tagged

from .common import PsaTimesheetCommon


@tagged("post_install", "-at_install")
class TestPrepaidDisplay(PsaTimesheetCommon):
    """The project and customer forms say what prepaid balance is left, with its unit."""

    def test_balance_with_its_unit(self):
        self.assertFalse(self.project.psa_prepaid_display, "no fund: no Prepaid Left button")
        funds = self.env["psa.prepaid.fund"]
        funds.create(
            {
                "name": "40 support hours",
                "partner_id": self.customer.id,
                "initial_quantity": 40.0,
                "date_start": "2026-11-01",
            }
        )
        self.project.invalidate_recordset(["psa_prepaid_display"])
        self.assertEqual(self.project.psa_prepaid_display, "40.00 h")
        funds.create(
            {
                "name": "Hardware budget",
                "partner_id": self.customer.id,
                "unit": "amount",
                "initial_quantity": 500.0,
                "date_start": "2026-11-01",
            }
        )
        self.project.invalidate_recordset(["psa_prepaid_display"])
        self.customer.invalidate_recordset(["psa_prepaid_display"])
        display = self.project.psa_prepaid_display
        self.assertTrue(display.startswith("40.00 h + "), display)
        self.assertIn("500.00", display)
        self.assertIn(self.env.company.currency_id.symbol, display, "an amount says its currency")
        self.assertEqual(self.customer.psa_prepaid_display, display)
