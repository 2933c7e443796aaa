from datetime import date
from unittest.mock import patch

from odoo import Command
from odoo.tests import tagged

from .billing_run_common import BillingRunCommon

ENTRIES = [(date(2026, 10, 5), 2.0), (date(2026, 10, 6), 3.5), (date(2026, 10, 19), 1.25)]


@tagged("post_install", "-at_install")
class TestBillingRunSameAsOdoo(BillingRunCommon):
    """Two identical orders (time and materials plus an onboarding fee, a 15 % tax): one billed by
    the run, one by Odoo's own "Create invoice". The batched creation and posting of the run must
    give the same invoice, line by line, and the same followers and time links."""

    # the tax posts on the product line's account (no account of its own): Odoo's line synchronisation
    # computes the invoice's tax and payment-term lines, once, when the run creates it
    lines_given = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tax = cls.env["account.tax"].create({"name": "Run VAT 15%", "amount": 15.0, "type_tax_use": "sale"})
        (cls.product_time | cls.product_fixed).write({"taxes_id": [Command.set(cls.tax.ids)]})
        cls.orders = {}
        for label, partner in (("run", cls.customer_a), ("odoo", cls.customer_b)):
            order = cls._create_order(
                partner, [(cls.product_time, 40, 120.0), (cls.product_fixed, 1, 500.0)], po=f"PO-{label}"
            )
            time_line = order.order_line.filtered(lambda sol: sol.product_id == cls.product_time)
            cls._log_time(time_line, cls._create_project(time_line), ENTRIES)
            cls.orders[label] = order

    @classmethod
    def _post_tax_on_its_own_account(cls):
        tax_account = cls.env["account.account"].search(
            [
                *cls.env["account.account"]._check_company_domain(cls.env.company),
                ("account_type", "=", "liability_current"),
            ],
            limit=1,
        )
        cls.tax.repartition_line_ids.filtered(lambda rep: rep.repartition_type == "tax").account_id = tax_account

    def _line_facts(self, invoice):
        return [
            (
                line.display_type,
                line.product_id,
                line.account_id,
                line.tax_ids,
                line.tax_line_id,
                line.quantity,
                line.price_unit,
                line.debit,
                line.credit,
                line.analytic_distribution and sorted(line.analytic_distribution.values()),
                line.sale_line_ids.product_id,
                line.date_maturity,
            )
            for line in invoice.line_ids.sorted(lambda line: (line.display_type, line.product_id.id, line.balance))
        ]

    def _tracked(self, invoice):
        self.env.flush_all()
        self.env.cr.precommit.run()  # tracking values are written when the transaction commits
        return sorted(invoice.message_ids.tracking_value_ids.field_id.mapped("name"))

    def test_run_invoice_is_the_invoice_odoo_makes(self):
        # tracked as in production (the test base class switches tracking off)
        tracked = {"tracking_disable": False, "mail_notrack": False}
        run = self._new_run(partner_ids=[Command.set(self.customer_a.ids)], mode="automatic")
        run.with_context(**tracked).action_confirm()
        ours = run.invoice_ids
        # Odoo dates an invoice without payment term due "today" in its user's time zone: the run's user's here,
        # or the two differ by a day late in the evening (UTC)
        today_tz = run.env.context.get("tz") or run.env.user.tz or "UTC"
        theirs = self.orders["odoo"].with_context(**tracked, tz=today_tz)._create_invoices()
        theirs.invoice_date = ours.invoice_date  # the run dates its invoices; finance would date Odoo's too
        theirs.action_post()
        self.assertEqual(len(ours), 1)
        self.assertEqual(ours.state, "posted")
        for field in ("amount_untaxed", "amount_tax", "amount_total", "amount_residual"):
            self.assertAlmostEqual(ours[field], theirs[field], msg=field)
        self.assertEqual(self._line_facts(ours), self._line_facts(theirs))
        self.assertEqual(ours.journal_id, theirs.journal_id)
        self.assertEqual(ours.invoice_payment_term_id, theirs.invoice_payment_term_id)
        self.assertEqual(ours.invoice_date_due, theirs.invoice_date_due)
        self.assertEqual(ours.fiscal_position_id, theirs.fiscal_position_id)
        self.assertTrue(ours.name.startswith(ours.sequence_prefix))
        self.assertEqual(ours.payment_reference, ours.name, "the payment reference is the invoice number, as Odoo's")
        self.assertEqual(theirs.payment_reference, theirs.name)
        self.assertEqual(ours.ref, "PO-run")
        self.assertEqual(self.customer_a, ours.message_partner_ids & self.customer_a, "the customer follows it")
        self.assertIn(self.customer_b, theirs.message_partner_ids)
        time_line_ours = self.orders["run"].order_line.filtered(lambda sol: sol.product_id == self.product_time)
        time_line_theirs = self.orders["odoo"].order_line.filtered(lambda sol: sol.product_id == self.product_time)
        self.assertEqual(time_line_ours.qty_invoiced, time_line_theirs.qty_invoiced)
        self.assertEqual(time_line_ours.invoice_status, time_line_theirs.invoice_status)
        # posting ticks "Checked" on journals that check on post; the run ticks it for its batch first
        self.assertTrue(ours.journal_id.autocheck_on_post)
        self.assertTrue(ours.checked)
        self.assertEqual(ours.checked, theirs.checked)
        self.assertEqual(self._tracked(ours), self._tracked(theirs), "the same changes are tracked in the chatter")
        self.assertEqual(ours.timesheet_count, 3)
        self.assertEqual(ours.timesheet_count, theirs.timesheet_count)
        # the clerk may not read other people's time: check as the timesheet manager would
        for invoice in (ours, theirs):
            timesheets = (
                self.env["account.analytic.line"]
                .with_user(self.ts_manager)
                .search([("timesheet_invoice_id", "=", invoice.id)])
            )
            self.assertEqual(len(timesheets), 3)
            self.assertEqual(set(timesheets.mapped("psa_approval_state")), {"invoiced"})

    def test_batch_invoices_take_consecutive_numbers(self):
        run = self._new_run(partner_ids=[Command.set((self.customer_a | self.customer_b).ids)], mode="automatic")
        run.action_confirm()
        invoices = run.invoice_ids.sorted("sequence_number")
        self.assertEqual(len(invoices), 2)
        self.assertEqual(len(set(invoices.mapped("sequence_prefix"))), 1)
        first, second = invoices.mapped("sequence_number")
        self.assertEqual(second, first + 1)
        self.assertEqual(set(run.line_ids.filtered(lambda line: line.kind == "bill").mapped("state")), {"invoiced"})

    def test_run_gives_its_lines_their_amounts(self):
        """The run computes the journal amounts of its product lines as Odoo's line synchronisation
        does: that synchronisation then finds nothing to write on them (it wrote each line twice before)."""
        aml_class = type(self.env["account.move.line"])
        written = []
        original_write = aml_class.write

        def write(lines, vals):
            product_lines = lines.filtered(lambda line: line.display_type == "product")
            if product_lines and {"amount_currency", "balance"} & vals.keys():
                written.append((product_lines.ids, sorted(vals)))
            return original_write(lines, vals)

        run = self._new_run(partner_ids=[Command.set(self.customer_a.ids)], mode="automatic")
        with patch.object(aml_class, "write", write):
            run.action_confirm()
        self.assertEqual(run.invoice_ids.state, "posted")
        self.assertEqual(written, [], "no amount of a product line written after its creation")

    def test_posting_does_not_synchronise_the_lines_again(self):
        """The run gives its invoices all their journal items (tax and payment-term lines too) when their
        taxes post on accounts of their own, so Odoo's line synchronisation never runs on them; else it runs
        once, when they are created. Ticking "Checked" and posting them change nothing those lines depend
        on: they are not synchronised again."""
        move_class = type(self.env["account.move"])
        synchronised = []
        original_sync = move_class._sync_tax_lines

        def sync_tax_lines(moves, container):
            synchronised.append(container["records"].ids)
            return original_sync(moves, container)

        run = self._new_run(partner_ids=[Command.set(self.customer_a.ids)], mode="automatic")
        with patch.object(move_class, "_sync_tax_lines", sync_tax_lines):
            run.action_confirm()
        invoice = run.invoice_ids
        self.assertEqual((invoice.state, invoice.checked), ("posted", True))
        synchronised = [ids for ids in synchronised if invoice.id in ids]
        if self.lines_given:
            self.assertEqual(synchronised, [], "its lines are all given: never synchronised")
        else:
            self.assertEqual(len(synchronised), 1, "at its creation only")


@tagged("post_install", "-at_install")
class TestBillingRunSameAsOdooIncludedTax(TestBillingRunSameAsOdoo):
    """The same two orders with a 21 % tax included in the price, a 7.5 % discount and a fee that
    rounds, taxes rounded globally: the run's invoice is still Odoo's, to the cent."""

    # the tests of TestBillingRunSameAsOdoo, run again on these orders under this class's name
    allow_inherited_tests_method = True
    test_class = "TestBillingRunSameAsOdooIncludedTax"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.tax_calculation_rounding_method = "round_globally"
        cls.tax.write({"amount": 21.0, "price_include_override": "tax_included"})
        for order in cls.orders.values():
            order.order_line.write({"discount": 7.5})
            order.order_line.filtered(lambda line: line.product_id == cls.product_fixed).price_unit = 333.33


@tagged("post_install", "-at_install")
class TestBillingRunSameAsOdooIncludedTaxGiven(TestBillingRunSameAsOdooIncludedTax):
    """The included tax, discount and global rounding again, the tax posted on an account of its own: the
    journal items the run gives itself are Odoo's, to the cent."""

    allow_inherited_tests_method = True
    test_class = "TestBillingRunSameAsOdooIncludedTaxGiven"
    lines_given = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._post_tax_on_its_own_account()


@tagged("post_install", "-at_install")
class TestBillingRunSameAsOdooPaymentTerm(TestBillingRunSameAsOdoo):
    """The same two orders on a payment term of two instalments (30 % at 15 days, the rest 30 days after
    the end of the month), the tax posted on an account of its own: the run gives all the journal items
    itself, and its receivable lines, tax lines and due date are Odoo's."""

    allow_inherited_tests_method = True
    test_class = "TestBillingRunSameAsOdooPaymentTerm"
    lines_given = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._post_tax_on_its_own_account()
        term = cls.env["account.payment.term"].create(
            {
                "name": "Run 30% 15 days, balance 30 days after the end of the month",
                "line_ids": [
                    Command.create({"value": "percent", "value_amount": 30.0, "nb_days": 15}),
                    Command.create(
                        {
                            "value": "percent",
                            "value_amount": 70.0,
                            "delay_type": "days_after_end_of_month",
                            "nb_days": 30,
                        }
                    ),
                ],
            }
        )
        cls.orders["run"].payment_term_id = term
        cls.orders["odoo"].payment_term_id = term
