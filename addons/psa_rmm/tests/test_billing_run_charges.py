from datetime import date, datetime

from odoo import Command
from odoo.tests import new_test_user, tagged

from odoo.addons.base.tests.common import BaseCommon
from odoo.addons.psa_orders.tests.common import draft_credit_note


@tagged("post_install", "-at_install")
class TestBillingRunCharges(BaseCommon):
    """Two auto-resolved alerts of Monitored Customer are charged in October (20.00, then 15.00
    overage), a third on 5 November. The October billing run (up to 31 October, invoices dated
    1 November) invoices the two October charges once, each line saying which alert it bills."""

    PERIOD_END = date(2026, 10, 31)
    INVOICE_DATE = date(2026, 11, 1)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the run's batch jobs run at once, in the test's transaction (queue_job's ``queue_job__no_delay``),
        # as psa_timesheet_billing's BillingRunCommon does; TestBillingRunJobs tests the jobs themselves
        cls.env = cls.env(context=dict(cls.env.context, queue_job__no_delay=True))
        cls.clerk = new_test_user(
            cls.env,
            login="psa_rmm_billing_clerk",
            groups="account.group_account_invoice,sales_team.group_sale_salesman_all_leads",
        )
        cls.customer = cls.env["res.partner"].create({"name": "Charged Customer", "is_company": True})
        cls.product = cls.env["product.product"].create(
            {"name": "Auto-remediation (run)", "type": "service", "list_price": 20.0}
        )
        cls.integration = cls.env["psa.rmm.integration"].create(
            {
                "name": "Run RMM",
                "kind": "native",
                "secret": "run-secret",
                "charge_product_id": cls.product.id,
                "site_ids": [Command.create({"rmm_site_id": "run-site", "partner_id": cls.customer.id})],
            }
        )
        cls.charge_1, cls.charge_2, cls.charge_november = cls._charge(
            [(datetime(2026, 10, 3, 8, 0), 20.0), (datetime(2026, 10, 18, 22, 0), 15.0), (datetime(2026, 11, 5), 15.0)]
        )
        cls.fee_product = cls.env["product.product"].create(
            {"name": "Monitoring onboarding", "type": "service", "invoice_policy": "order", "list_price": 300.0}
        )
        cls.order = cls.env["sale.order"].create(
            {
                "partner_id": cls.customer.id,
                "order_line": [Command.create({"product_id": cls.fee_product.id, "price_unit": 300.0})],
            }
        )
        cls.order.action_confirm()
        cls.order.date_order = datetime(2026, 10, 1, 9, 0)

    @classmethod
    def _charge(cls, occurrences):
        events = cls.env["psa.rmm.event"].create(
            [
                {
                    "integration_id": cls.integration.id,
                    "company_id": cls.env.company.id,
                    "rmm_event_id": f"run-ev-{index}",
                    "event_type": "alert.auto_resolved",
                    "occurred_at": when,
                    "alert_id": f"RUN-{index}",
                    "title": f"Disk full #{index}",
                    "partner_id": cls.customer.id,
                    "state": "done",
                }
                for index, (when, _price) in enumerate(occurrences)
            ]
        )
        return cls.env["psa.rmm.charge"].create(
            [
                {
                    "event_id": event.id,
                    "integration_id": cls.integration.id,
                    "company_id": cls.env.company.id,
                    "partner_id": cls.customer.id,
                    "date": when.date(),
                    "product_id": cls.product.id,
                    "price_unit": price,
                    "explanation": f"Alert {event.title} auto-resolved",
                }
                for event, (when, price) in zip(events, occurrences, strict=True)
            ]
        )

    def _run(self, grouping="order"):
        run = (
            self.env["psa.billing.run"]
            .with_user(self.clerk)
            .create(
                {
                    "period_end": self.PERIOD_END,
                    "invoice_date": self.INVOICE_DATE,
                    "grouping": grouping,
                    "partner_ids": [Command.set(self.customer.ids)],
                }
            )
        )
        run.action_preview()
        return run

    def _charge_lines(self, run):
        return run.line_ids.filtered(lambda line: line.source_type == "rmm_charge")

    def test_october_charges_are_previewed_invoiced_once_and_marked(self):
        run = self._run()
        lines = self._charge_lines(run)
        self.assertEqual(lines.mapped("source_res_id"), (self.charge_1 | self.charge_2).ids)
        self.assertAlmostEqual(sum(lines.mapped("amount")), 35.0)
        self.assertIn("Disk full #0", lines[0].explanation)

        run.action_confirm()
        self.assertEqual(set(lines.mapped("state")), {"invoiced"})
        invoice = lines.move_id
        self.assertEqual(len(invoice), 1, "per-order grouping: the charges get their own invoice")
        self.assertNotEqual(invoice, self.order.invoice_ids)
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(invoice.partner_id, self.customer)
        self.assertAlmostEqual(invoice.amount_untaxed, 35.0)
        self.assertEqual((self.charge_1 | self.charge_2).mapped("state"), ["invoiced", "invoiced"])
        self.assertEqual((self.charge_1 | self.charge_2).invoice_line_id.move_id, invoice)
        for invoice_line in invoice.invoice_line_ids:
            self.assertIn("RMM charge of 2026-10-", invoice_line.psa_billing_explanation)
        self.assertEqual(self.charge_november.state, "to_invoice", "after the period end: next run")

        rerun = self._run()
        self.assertFalse(self._charge_lines(rerun), "a rerun bills no charge twice")

    def test_charges_report_by_customer_month_and_status(self):
        """What PSA > Reporting > RMM Charges shows (customer x month, then status) after the October run:
        35.00 in October, invoiced (the invoice's charge lines), 15.00 in November still to invoice."""
        run = self._run()
        run.with_user(self.clerk).action_confirm()
        charges = self.env["psa.rmm.charge"].with_user(self.clerk)
        domain = [("partner_id", "=", self.customer.id)]
        rows = charges.read_group(domain, ["amount", "quantity"], ["partner_id", "date:month"], lazy=False)
        by_month = {row["date:month"]: row["amount"] for row in rows}
        self.assertEqual(by_month, {"October 2026": 35.0, "November 2026": 15.0})
        by_state = dict(charges._read_group(domain, ["state"], ["amount:sum"]))
        self.assertEqual(by_state, {"invoiced": 35.0, "to_invoice": 15.0})
        invoice_lines = (self.charge_1 | self.charge_2).invoice_line_id
        self.assertAlmostEqual(by_state["invoiced"], sum(invoice_lines.mapped("price_subtotal")), places=2)
        action = self.env["ir.actions.act_window"]._for_xml_id("psa_rmm.action_psa_rmm_charge_report")
        self.assertEqual(action["view_mode"].split(",")[:2], ["graph", "pivot"])

    def test_charges_join_the_customer_invoice_when_grouping_per_customer(self):
        run = self._run(grouping="customer")
        run.action_confirm()
        invoice = self.order.invoice_ids
        self.assertEqual(len(invoice), 1)
        self.assertAlmostEqual(invoice.amount_untaxed, 335.0)
        self.assertEqual(self._charge_lines(run).move_id, invoice)
        self.assertEqual(self.charge_1.invoice_line_id.move_id, invoice)

    def test_charge_billed_meanwhile_is_skipped_at_confirm(self):
        run = self._run()
        other = self._run()
        other.action_confirm()
        run.action_confirm()
        lines = self._charge_lines(run)
        self.assertEqual(set(lines.mapped("state")), {"skipped"})
        self.assertEqual(len(self.charge_1.invoice_line_id), 1, "billed by one run only")

    def test_charges_posting_would_refuse_for_a_po_rule_are_skipped(self):
        self.customer.psa_po_policy = "always"
        run = self._run()
        lines = self._charge_lines(run)
        self.assertEqual(set(lines.mapped("state")), {"skipped"})
        self.assertIn("rule: PO always required", lines[0].skip_reason)
        run.action_confirm()
        self.assertFalse(self.charge_1.invoice_line_id, "nothing posting would refuse is invoiced")

    def _posted_charge_lines(self):
        """Invoice lines of posted invoices that bill the October charges (what the customer pays)."""
        return self.env["account.move.line"].search(
            [
                ("move_id.partner_id", "=", self.customer.id),
                ("move_id.state", "=", "posted"),
                ("product_id", "=", self.product.id),
            ]
        )

    def test_charges_of_a_cancelled_invoice_are_billed_again_once(self):
        """The October invoice of the charges is cancelled: the next run bills both charges again, on a
        new invoice, saying why; a run after that bills nothing."""
        charges = self.charge_1 | self.charge_2
        first = self._run()
        first.action_confirm()
        cancelled = self._charge_lines(first).move_id
        self.assertEqual(cancelled.state, "posted")
        cancelled.with_user(self.clerk).button_cancel()
        self.assertEqual(cancelled.state, "cancel")
        self.assertEqual(charges.mapped("state"), ["to_invoice", "to_invoice"])
        self.assertFalse(self._posted_charge_lines())

        again = self._run()
        lines = self._charge_lines(again)
        self.assertEqual(lines.mapped("source_res_id"), charges.ids)
        self.assertIn(f"billed again: invoice {cancelled.display_name} was cancelled", lines[0].explanation)
        again.action_confirm()
        self.assertEqual(set(lines.mapped("state")), {"invoiced"})
        invoice = lines.move_id
        self.assertEqual(len(invoice), 1)
        self.assertNotEqual(invoice, cancelled)
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(charges.invoice_line_id.move_id, invoice)
        self.assertIn(f"{cancelled.display_name} was cancelled", charges[0].invoice_line_id.psa_billing_explanation)
        self.assertEqual(charges.mapped("state"), ["invoiced", "invoiced"])
        self.assertEqual(self._posted_charge_lines().move_id, invoice)
        self.assertAlmostEqual(sum(self._posted_charge_lines().mapped("price_subtotal")), 35.0)

        rerun = self._run()
        self.assertFalse(self._charge_lines(rerun), "billed once again, not twice")
        rerun.action_confirm()
        self.assertAlmostEqual(sum(self._posted_charge_lines().mapped("price_subtotal")), 35.0)

    def test_charges_of_a_cancelled_draft_invoice_are_billed_again(self):
        """A run that leaves its invoices in draft: cancelling the draft frees its charges too."""
        first = self._run()
        first.post_invoices = False
        first.action_confirm()
        draft = self._charge_lines(first).move_id
        self.assertEqual(draft.state, "draft")
        self.assertFalse(self._charge_lines(self._run()), "charges on a draft invoice are not billed twice")
        draft.with_user(self.clerk).button_cancel()

        again = self._run()
        self.assertEqual(self._charge_lines(again).mapped("source_res_id"), (self.charge_1 | self.charge_2).ids)
        again.action_confirm()
        self.assertEqual(self._charge_lines(again).move_id.state, "posted")
        self.assertEqual((self.charge_1 | self.charge_2).mapped("state"), ["invoiced", "invoiced"])

    def test_charges_of_an_invoice_reversed_in_full_are_billed_again_once(self):
        """A credit note reverses the October invoice in full: its charges are billed again by the next
        run, saying why; with the credit note back in draft they were not; a run after that bills nothing."""
        charges = self.charge_1 | self.charge_2
        first = self._run()
        first.action_confirm()
        invoice = self._charge_lines(first).move_id
        refund = draft_credit_note(invoice, "alerts were a monitoring glitch", user=self.clerk)
        self.assertEqual(charges.mapped("state"), ["invoiced", "invoiced"], "a draft credit note changes nothing")
        refund.with_user(self.clerk).action_post()
        self.assertEqual(invoice.payment_state, "reversed")
        self.assertEqual(charges.mapped("state"), ["to_invoice", "to_invoice"])
        refund.with_user(self.clerk).button_draft()
        self.assertEqual(charges.mapped("state"), ["invoiced", "invoiced"], "the invoice bills them again")
        self.assertFalse(self._charge_lines(self._run()))
        refund.with_user(self.clerk).action_post()

        again = self._run()
        lines = self._charge_lines(again)
        self.assertEqual(lines.mapped("source_res_id"), charges.ids)
        self.assertIn(f"invoice {invoice.display_name} was reversed in full", lines[0].explanation)
        again.action_confirm()
        self.assertEqual(set(lines.mapped("state")), {"invoiced"})
        self.assertNotEqual(lines.move_id, invoice)
        self.assertEqual(charges.invoice_line_id.move_id, lines.move_id)
        self.assertEqual(charges.mapped("state"), ["invoiced", "invoiced"])

        rerun = self._run()
        self.assertFalse(self._charge_lines(rerun), "billed once again, not twice")

    def test_full_reversal_gives_the_charges_back_to_one_run_only(self):
        """A credit note reverses the October invoice in full: the charges hear it through the billing
        source's hook (to invoice again, their keys free). Two runs previewed after it both list them;
        the first confirmed bills them once, taking over their keys, the second skips them as billed."""
        charges = self.charge_1 | self.charge_2
        first = self._run()
        first.action_confirm()
        invoice = self._charge_lines(first).move_id
        keys = self.env["psa.billing.key"].search([("source_model", "=", "psa.rmm.charge")])
        self.assertEqual((len(keys), keys.move_id), (2, invoice))
        draft_credit_note(invoice, "alerts were a monitoring glitch", user=self.clerk).with_user(
            self.clerk
        ).action_post()
        self.assertEqual(invoice.payment_state, "reversed")
        self.assertEqual(charges.mapped("state"), ["to_invoice", "to_invoice"], "given back by the source's hook")

        second, third = self._run(), self._run()
        self.assertEqual(self._charge_lines(second).mapped("source_res_id"), charges.ids)
        self.assertEqual(self._charge_lines(third).mapped("source_res_id"), charges.ids)
        second.action_confirm()
        third.action_confirm()
        rebilled = self._charge_lines(second).move_id
        self.assertEqual((len(rebilled), rebilled.state), (1, "posted"))
        self.assertEqual(set(self._charge_lines(third).mapped("state")), {"skipped"})
        self.assertIn("billed meanwhile", self._charge_lines(third)[0].skip_reason)
        self.assertEqual(charges.mapped("state"), ["invoiced", "invoiced"])
        self.assertEqual(charges.invoice_line_id.move_id, rebilled)
        self.assertEqual(keys.exists().move_id, rebilled, "the same keys, taken over by the new invoice")
        # what the customer owes for the October charges: billed twice, credited once
        self.assertAlmostEqual(sum(self._posted_charge_lines().mapped("balance")), -35.0)
        self.assertFalse(self._charge_lines(self._run()), "and a run after that bills nothing")
