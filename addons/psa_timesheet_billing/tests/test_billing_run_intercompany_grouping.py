from datetime import date
from unittest.mock import patch

from odoo import Command
from odoo.tests import new_test_user, tagged

from .intercompany_common import IntercompanyCommon


@tagged("post_install", "-at_install")
class TestBillingRunIntercompanyGrouping(IntercompanyCommon):
    """Besides the consultant's 10 h on B's rollout, a second consultant of A logs 2 h on the rollout
    and the first one 3 h on B's network project. A's run bills B one invoice line per project,
    employee company and rate, with the hours summed and the entries listed; each entry once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.second_consultant = cls.env["hr.employee"].create(
            {"name": "Second consultant of A", "company_id": cls.company_a.id, "hourly_cost": 70.0}
        )
        env_b = cls.env(context=dict(cls.env.context, allowed_company_ids=[cls.company_b.id, cls.company_a.id]))
        cls.network_b = env_b["project.project"].create(
            {
                "name": "B's network",
                "company_id": cls.company_b.id,
                "partner_id": cls.customer_of_b.id,
                "allow_timesheets": True,
                "allow_billable": True,
                "sale_line_id": cls.order_b.order_line.id,
            }
        )
        cls.rollout_time = cls.time | cls._log_time(cls.project_b, cls.second_consultant, [(date(2026, 10, 13), 2.0)])
        cls.network_time = cls._log_time(cls.network_b, cls.consultant, [(date(2026, 10, 8), 3.0)])

    def _line_of(self, run, project):
        return self._intercompany_lines(run).filtered(lambda line: line.timesheet_ids.project_id == project)

    def test_time_of_one_project_and_rate_is_one_invoice_line(self):
        run = self._run(self.company_a)
        self.assertEqual(len(self._intercompany_lines(run)), 2, "one line per project")
        rollout = self._line_of(run, self.project_b)
        self.assertEqual(rollout.timesheet_ids, self.rollout_time)
        self.assertAlmostEqual(rollout.quantity, 12.0)
        self.assertAlmostEqual(rollout.amount, 960.0, msg="12 h at A's intercompany rate of 80.00")
        invoice = rollout.move_id
        self.assertEqual(invoice, self._line_of(run, self.network_b).move_id, "one invoice from A to B")
        self.assertEqual(len(invoice.invoice_line_ids), 2)
        invoice_line = invoice.invoice_line_ids.filtered(lambda line: "B's rollout" in line.name)
        self.assertAlmostEqual(invoice_line.quantity, 12.0)
        self.assertAlmostEqual(invoice_line.price_subtotal, 960.0)
        explanation = invoice_line.psa_billing_explanation
        for expected in ("3 time entries", "12.0 h from 2026-10-06 to 2026-10-20", "Second consultant of A"):
            self.assertIn(expected, explanation)
        for timesheet in self.rollout_time:
            self.assertIn(timesheet.name, explanation)
        keys = self.env["psa.billing.key"].sudo().search([("move_id", "=", invoice.id)])
        self.assertEqual(len(keys), 4, "one exactly-once key per time entry")

    def test_employee_cost_rates_make_one_line_per_rate(self):
        self.company_a.psa_intercompany_rate = 0.0
        run = self._run(self.company_a)
        rollout = self._line_of(run, self.project_b)
        self.assertEqual(len(rollout), 2, "the two consultants cost differently")
        by_rate = {line.price_unit: line.quantity for line in rollout}
        self.assertEqual(by_rate, {55.0: 10.0, 70.0: 2.0})

    def test_partially_billed_group_bills_each_entry_once(self):
        first = self._new_run(self.company_a)
        late = self._log_time(self.project_b, self.consultant, [(date(2026, 10, 27), 1.5)])
        second = self._new_run(self.company_a)
        self.assertAlmostEqual(self._line_of(second, self.project_b).quantity, 13.5)
        first.action_confirm()
        self.assertAlmostEqual(self._line_of(first, self.project_b).amount, 960.0)
        second.action_confirm()
        line = self._line_of(second, self.project_b)
        self.assertEqual(line.state, "invoiced")
        self.assertAlmostEqual(line.quantity, 1.5, msg="only the entry the first run did not bill")
        self.assertAlmostEqual(line.amount, 120.0)
        self.assertIn("3 time entries of the preview were billed meanwhile", line.explanation)
        self.assertEqual(line.move_id.invoice_line_ids.filtered(lambda il: "rollout" in il.name).quantity, 1.5)
        network = self._line_of(second, self.network_b)
        self.assertEqual(network.state, "skipped")
        self.assertIn("already billed on", network.skip_reason)
        self.assertFalse(self._intercompany_lines(self._new_run(self.company_a)), "all billed once")
        newer = self._log_time(self.project_b, self.second_consultant, [(date(2026, 10, 30), 0.5)])
        later = self._run(self.company_a)
        self.assertEqual(self._intercompany_lines(later).timesheet_ids, newer, "a later entry, a later run")
        billed_hours = sum(
            self.env["account.move.line"]
            .sudo()
            .search(
                [("move_id.partner_id", "=", self.company_b.partner_id.id), ("move_id.move_type", "=", "out_invoice")]
            )
            .mapped("quantity")
        )
        self.assertAlmostEqual(
            billed_hours, sum((self.rollout_time | self.network_time | late | newer).mapped("unit_amount"))
        )

    def test_run_over_both_companies_bills_between_them(self):
        clerk = new_test_user(
            self.env,
            login="psa_intercompany_clerk",
            groups="account.group_account_invoice,sales_team.group_sale_salesman_all_leads",
            company_id=self.company_a.id,
            company_ids=[Command.set((self.company_a | self.company_b).ids)],
        )
        both = self.company_a | self.company_b
        run = self._run(self.company_a, both, user=clerk)
        lines = self._intercompany_lines(run)
        self.assertEqual(set(lines.mapped("state")), {"invoiced"})
        self.assertAlmostEqual(sum(lines.mapped("amount")), 15.0 * 80.0)
        invoice = lines.move_id
        self.assertEqual((invoice.company_id, invoice.partner_id), (self.company_a, self.company_b.partner_id))
        bill = self.env["account.move"].sudo().search([("auto_invoice_id", "=", invoice.id)])
        self.assertEqual(len(bill), 1, "OCA mirrors it as a vendor bill in B")
        self.assertEqual((bill.company_id, bill.move_type), (self.company_b, "in_invoice"))
        customer_invoice = self.order_b.invoice_ids
        self.assertEqual(len(customer_invoice), 1, "the same run bills B's customer for the same time")
        self.assertAlmostEqual(customer_invoice.amount_untaxed, 15.0 * 150.0)
        self.assertEqual((self.rollout_time | self.network_time).timesheet_invoice_id, customer_invoice)
        rerun = self._run(self.company_a, both, user=clerk)
        self.assertFalse(rerun.line_ids.filtered(lambda line: line.kind == "bill"), "nothing billed twice")
        self.assertFalse(self._intercompany_lines(self._new_run(self.company_a)))

    def test_clerk_of_the_employee_company_alone_bills_the_grouped_time(self):
        clerk = new_test_user(
            self.env,
            login="psa_intercompany_clerk_a",
            groups="account.group_account_invoice,sales_team.group_sale_salesman_all_leads",
            company_id=self.company_a.id,
            company_ids=[Command.set(self.company_a.ids)],
        )
        run = self._new_run(self.company_a, user=clerk)
        rollout = self._line_of(run.sudo(), self.project_b).with_env(run.env)
        self.assertEqual(sorted(rollout.read(["timesheet_ids"])[0]["timesheet_ids"]), sorted(self.rollout_time.ids))
        run.action_confirm()
        self.assertEqual(set(self._intercompany_lines(run).mapped("state")), {"invoiced"})
        self.assertEqual(
            len(self.env["account.move"].sudo().search([("auto_invoice_id", "in", run.invoice_ids.ids)])), 1
        )

    def test_long_groups_list_their_first_entries(self):
        time_source = type(self.env["account.analytic.line"])
        with patch.object(time_source, "_psa_intercompany_listed_entries", 2):
            run = self._new_run(self.company_a)
        rollout = self._line_of(run, self.project_b)
        self.assertEqual(len(rollout.timesheet_ids), 3)
        self.assertIn("3 time entries", rollout.explanation)
        self.assertIn("and 1 more", rollout.explanation)
        self.assertNotIn(self.rollout_time.sorted("date")[-1].name, rollout.explanation)

    def test_preview_leaves_billed_entries_out_in_the_database(self):
        """The preview does not load every entry ever billed between the companies: the search itself
        leaves out the entries whose intercompany key is taken."""
        run = self._run(self.company_a)
        billed = self._intercompany_lines(run).timesheet_ids
        self.assertEqual(billed, self.rollout_time | self.network_time)
        newer = self._log_time(self.project_b, self.consultant, [(date(2026, 10, 28), 1.0)])
        next_run = self._new_run(self.company_a)
        timesheets = self.env["account.analytic.line"].sudo()
        domain = timesheets._psa_get_intercompany_domain(next_run)
        self.assertEqual(timesheets.search(domain), billed | newer)
        not_billed = [("id", "not in", timesheets._psa_billed_subquery("intercompany"))]
        self.assertEqual(timesheets.search(domain + not_billed), newer)
        self.assertEqual(self._intercompany_lines(next_run).timesheet_ids, newer)
