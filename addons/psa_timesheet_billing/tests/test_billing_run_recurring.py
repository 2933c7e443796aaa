from datetime import date

from odoo import Command
from odoo.tests import tagged

from .billing_run_common import BillingRunCommon


@tagged("post_install", "-at_install")
class TestBillingRunRecurring(BillingRunCommon):
    """Customer A has a monthly support agreement (OCA contract) billed in advance from October."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agreement = cls.env["contract.contract"].create(
            {
                "name": "Run support agreement",
                "partner_id": cls.customer_a.id,
                "line_recurrence": True,
                "contract_line_ids": [
                    Command.create(
                        {
                            "product_id": cls.product_fixed.id,
                            "name": "Support #START# - #END#",
                            "quantity": 2,
                            "uom_id": cls.env.ref("uom.product_uom_unit").id,
                            "price_unit": 450.0,
                            "recurring_rule_type": "monthly",
                            "recurring_interval": 1,
                            "date_start": date(2026, 10, 1),
                        }
                    )
                ],
            }
        )
        cls.agreement_line = cls.agreement.contract_line_ids

    def _run(self):
        run = self._new_run(partner_ids=[Command.set(self.customer_a.ids)])
        run.action_preview()
        return run

    def test_due_period_is_previewed_billed_and_explained(self):
        run = self._run()
        line = run.line_ids.filtered(lambda run_line: run_line.source_type == "recurring")
        self.assertEqual(line.contract_id, self.agreement)
        self.assertAlmostEqual(line.amount, 2 * 450.0)
        self.assertFalse(self.agreement._get_related_invoices(), "the preview bills nothing")
        self.assertEqual(self.agreement_line.recurring_next_date, date(2026, 10, 1), "the preview moves no date")
        run.action_confirm()
        invoice = self.agreement._get_related_invoices()
        self.assertEqual(len(invoice), 1)
        self.assertEqual(invoice.state, "posted")
        self.assertAlmostEqual(invoice.amount_untaxed, line.amount)
        explanation = invoice.invoice_line_ids.psa_billing_explanation
        for expected in (self.agreement.name, "2026-10-01", "2026-10-31", "Month(s)"):
            self.assertIn(expected, explanation)
        self.assertEqual(self.agreement_line.last_date_invoiced, date(2026, 10, 31))
        self.assertEqual(self.agreement_line.recurring_next_date, date(2026, 11, 1))

    def test_rerun_and_relaunch_do_not_bill_the_period_twice(self):
        first, second = self._run(), self._run()
        first.action_confirm()
        second.action_confirm()
        self.assertEqual(second.invoice_count, 0)
        self.assertEqual(len(self.agreement._get_related_invoices()), 1)
        # the OCA relaunch bug: the agreement's date is back as if the period was never billed
        self.agreement_line.write({"last_date_invoiced": False})
        self.assertEqual(self.agreement_line.recurring_next_date, date(2026, 10, 1))
        relaunch = self._run()
        self.assertEqual(relaunch.line_ids.filtered(lambda line: line.source_type == "recurring").amount, 900.0)
        relaunch.action_confirm()
        skipped = relaunch.line_ids.filtered(lambda line: line.source_type == "recurring")
        self.assertEqual(skipped.state, "skipped")
        self.assertIn("already billed on", skipped.skip_reason)
        self.assertEqual(len(self.agreement._get_related_invoices()), 1, "the key stops the second bill")

    def test_oca_invoicing_and_the_run_share_the_keys(self):
        """OCA's own button/cron bills a period: the run then sees it billed; a relaunch does not bill it again."""
        self.agreement.recurring_create_invoice()
        invoice = self.agreement._get_related_invoices()
        self.assertEqual(len(invoice), 1)
        keys = self.env["psa.billing.key"].sudo().search([("move_id", "=", invoice.id)])
        self.assertEqual(keys.mapped("name"), [f"contract.line:{self.agreement_line.id}:2026-10-01"])
        self.agreement_line.write({"last_date_invoiced": False})
        run = self._run()
        run.action_confirm()
        self.assertEqual(run.invoice_count, 0)
        self.assertIn(
            "already billed on", run.line_ids.filtered(lambda line: line.source_type == "recurring").skip_reason
        )
        self.agreement._recurring_create_invoice()
        self.assertEqual(len(self.agreement._get_related_invoices()), 1, "OCA's relaunch is stopped by the key")

    def test_agreement_billed_in_arrears(self):
        """A post-paid line started in September is billed for September when the October run comes."""
        arrears = self.env["contract.contract"].create(
            {
                "name": "Run arrears agreement",
                "partner_id": self.customer_b.id,
                "line_recurrence": True,
                "contract_line_ids": [
                    Command.create(
                        {
                            "product_id": self.product_fixed.id,
                            "name": "Monitoring #START# - #END#",
                            "quantity": 1,
                            "uom_id": self.env.ref("uom.product_uom_unit").id,
                            "price_unit": 300.0,
                            "recurring_rule_type": "monthly",
                            "recurring_interval": 1,
                            "recurring_invoicing_type": "post-paid",
                            "date_start": date(2026, 9, 1),
                        }
                    )
                ],
            }
        )
        run = self._new_run(partner_ids=[Command.set(self.customer_b.ids)], mode="automatic")
        run.action_confirm()
        invoice = arrears._get_related_invoices()
        self.assertEqual(len(invoice), 1)
        explanation = invoice.invoice_line_ids.psa_billing_explanation
        self.assertIn("period 2026-09-01 to 2026-09-30", explanation)
        self.assertIn("post-paid", explanation)
        self.assertEqual(arrears.contract_line_ids.last_date_invoiced, date(2026, 9, 30))

    def test_oca_cron_leaves_customer_agreements_to_the_run(self):
        """One owner: OCA's scheduled invoicing does not bill a customer agreement (the run does);
        a vendor agreement, which the suite does not cover, is still invoiced by OCA's cron."""
        vendor = self.env["res.partner"].create({"name": "Run vendor", "is_company": True})
        vendor_agreement = self.env["contract.contract"].create(
            {
                "name": "Run vendor agreement",
                "partner_id": vendor.id,
                "contract_type": "purchase",
                "line_recurrence": True,
                "contract_line_ids": [
                    Command.create(
                        {
                            "product_id": self.product_fixed.id,
                            "name": "Hosting",
                            "quantity": 1,
                            "uom_id": self.env.ref("uom.product_uom_unit").id,
                            "price_unit": 80.0,
                            "recurring_rule_type": "monthly",
                            "recurring_interval": 1,
                            "date_start": date(2026, 10, 1),
                        }
                    )
                ],
            }
        )
        self.env["contract.contract"].cron_recurring_create_invoice(date_ref=date(2026, 11, 1))
        self.assertFalse(self.agreement._get_related_invoices(), "the run owns customer agreements")
        self.assertEqual(self.agreement_line.recurring_next_date, date(2026, 10, 1))
        self.assertEqual(len(vendor_agreement._get_related_invoices()), 1, "OCA's behaviour for the others")
        run = self._run()
        run.action_confirm()
        self.assertEqual(len(self.agreement._get_related_invoices()), 1)
        self.assertIn(
            self.agreement.name, self.agreement._get_related_invoices().invoice_line_ids.psa_billing_explanation
        )
