import json
from collections import defaultdict

from odoo import Command
from odoo.tests import new_test_user, tagged

from .common import PsaDashboardCommon, load_dashboard, month_start

OPERATORS = {
    "=": lambda value, target: value == target,
    "!=": lambda value, target: value != target,
    ">": lambda value, target: value > target,
    "in": lambda value, target: value in target,
}


def _matches(row, domain):
    """Whether an expected row passes the dashboard's domain (a list of simple terms, all and-ed: the
    dashboard's domains are written that way, which ``test_domains_are_simple`` holds)."""
    return all(OPERATORS[op](row[field], value) for field, op, value in domain)


def _key(row, groupby):
    parts = []
    for spec in groupby:
        field, _sep, granularity = spec.partition(":")
        parts.append(month_start(row[field]) if granularity == "month" else row[field])
    return tuple(parts)


@tagged("post_install", "-at_install")
class TestDashboardFigures(PsaDashboardCommon):
    """Every pivot and chart of the PSA dashboard, read back from its JSON file, asks a grouped read
    that adds up to what the known records say, to the cent, for customers A and B, read by an
    invoicing user (the group the dashboard is published to)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the dashboard is published to invoicing users: every figure is read with their rights
        cls.reader = new_test_user(cls.env, login="psa_dashboard_reader", groups="account.group_account_invoice")
        cls.dashboard = load_dashboard()
        cls.sources = [
            (
                f"pivot {pivot['name']}",
                pivot["model"],
                pivot["domain"],
                [d["fieldName"] for d in pivot["rows"]] + [d["fieldName"] for d in pivot["columns"]],
                [m["fieldName"] for m in pivot["measures"]],
                [d.get("granularity") for d in pivot["rows"] + pivot["columns"]],
            )
            for pivot in cls.dashboard["pivots"].values()
        ]
        for figure in cls.dashboard["sheets"][0]["figures"]:
            data = figure["data"]
            if data["type"].startswith("odoo_"):
                groupby = data["metaData"]["groupBy"]
                cls.sources.append(
                    (
                        f"chart {data['title']['text']}",
                        data["metaData"]["resModel"],
                        data["searchParams"]["domain"],
                        [spec.partition(":")[0] for spec in groupby],
                        [data["metaData"]["measure"]],
                        [spec.partition(":")[2] or None for spec in groupby],
                    )
                )

    def _grouped_read(self, model, domain, groupby, measures):
        aggregates = ["__count" if m == "__count" else f"{m}:sum" for m in measures]
        domain = [*domain, ("partner_id", "in", self.customers.ids)]
        result = {}
        for values in self.env[model].with_user(self.reader)._read_group(domain, groupby, aggregates):
            keys = tuple(value.id if hasattr(value, "_name") else value for value in values[: len(groupby)])
            result[keys] = values[len(groupby) :]
        return result

    def _expected(self, model, domain, groupby, measures):
        sums = defaultdict(lambda: [0.0] * len(measures))
        for row in self.expected_rows[model]:
            if not _matches(row, domain):
                continue
            totals = sums[_key(row, groupby)]
            for index, measure in enumerate(measures):
                totals[index] += 1 if measure == "__count" else row[measure]
        return dict(sums)

    def test_domains_are_simple(self):
        for name, _model, domain, _groupby, _measures, _granularities in self.sources:
            for term in domain:
                self.assertIsInstance(term, list, f"{name}: a domain of plain terms (and-ed)")
                self.assertIn(term[1], OPERATORS, name)

    def test_every_figure_adds_up(self):
        self.assertEqual(len(self.sources), 11 + 6, "eleven pivots and six charts")
        for name, model, domain, groupby, measures, granularities in self.sources:
            with self.subTest(figure=name):
                specs = [
                    f"{field}:{gran}" if gran else field for field, gran in zip(groupby, granularities, strict=True)
                ]
                got = self._grouped_read(model, domain, specs, measures)
                expected = self._expected(model, domain, specs, measures)
                self.assertTrue(expected, f"{name}: the data set shows something in this figure")
                self.assertEqual(set(got), set(expected), f"{name}: the same groups")
                for key, values in expected.items():
                    for measure, want, have in zip(measures, values, got[key], strict=True):
                        self.assertAlmostEqual(have, want, places=2, msg=f"{name} {key} {measure}")

    def test_figures_cost_the_same_queries_whatever_the_records(self):
        """No query per record: every figure's grouped read costs as many queries for 5 entries as for 45."""

        def queries():
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            for _name, model, domain, groupby, measures, granularities in self.sources:
                specs = [
                    f"{field}:{gran}" if gran else field for field, gran in zip(groupby, granularities, strict=True)
                ]
                self._grouped_read(model, domain, specs, measures)
            return self.env.cr.sql_log_count - before

        queries()  # warm the caches (access rules, fields)
        with_few = queries()
        project = self.waiting.project_id
        self._log_time(self.time_line, project, [(self.day(-offset), 1.0) for offset in range(1, 41)], approve=False)
        self.env.flush_all()
        self.assertEqual(queries(), with_few)

    def test_headline_figures(self):
        """The figures a finance lead reads first, worked out by hand."""

        def total(model, measure, domain=()):
            return self._grouped_read(model, list(domain), [], [measure])[()][0]

        wip = "psa.dashboard.wip"
        self.assertAlmostEqual(total(wip, "amount", [("kind", "=", "time_approved")]), 501.38, places=2)
        self.assertAlmostEqual(total(wip, "amount", [("kind", "=", "milestone")]), 1000.0, places=2)
        self.assertAlmostEqual(total(wip, "hours", [("kind", "=", "time_to_approve")]), 5.5, places=2)
        open_amount = total("psa.dashboard.receivable", "amount_residual", [("is_open", "=", True)])
        self.assertAlmostEqual(open_amount, 2050.35, places=2)
        invoiced = total("psa.dashboard.receivable", "amount_total", [("invoiced_last_365", "=", True)])
        self.assertAlmostEqual(invoiced, 2150.35, places=2)
        self.assertEqual(round(open_amount / invoiced * 365), 348, "days sales outstanding")
        self.assertAlmostEqual(total("psa.payment.attempt", "amount", [("number", ">", 1)]), 2000.10, places=2)
        prepaid = [("state", "!=", "settled")]
        self.assertAlmostEqual(total("psa.dashboard.prepaid", "remaining_value", prepaid), 1132.0, places=2)
        self.assertAlmostEqual(total("psa.dashboard.prepaid", "drawn_value_this_month", prepaid), 1528.0, places=2)
        self.assertAlmostEqual(total("psa.dashboard.billed", "amount"), 2450.35, places=2)
        self.assertAlmostEqual(total("psa.rmm.charge", "amount"), 71.0, places=2)

    def test_open_credit_note_is_credit_not_overdue(self):
        """A credit note past its due date lowers the open receivables; it is not overdue."""
        refund = self.env["account.move"].create(
            {
                "move_type": "out_refund",
                "partner_id": self.customer_a.id,
                "invoice_date": self.day(-30),
                "invoice_payment_term_id": False,
                "invoice_date_due": self.day(-20),
                "invoice_line_ids": [
                    Command.create(
                        {
                            "product_id": self.product_fixed.id,
                            "quantity": 1,
                            "price_unit": 80.0,
                            "tax_ids": [Command.clear()],
                        }
                    )
                ],
            }
        )
        refund.action_post()
        self.env.flush_all()
        row = self.env["psa.dashboard.receivable"].with_user(self.reader).search([("move_id", "=", refund.id)])
        self.assertEqual(
            (row.amount_residual, row.amount_overdue, row.days_overdue, row.overdue_bucket), (-80.0, 0.0, 0, "not_due")
        )

    def test_fund_balance_matches_the_fund(self):
        """The view's balance is the fund's own computed balance."""
        row = self.env["psa.dashboard.prepaid"].with_user(self.reader).search([("fund_id", "=", self.fund_low.id)])
        self.assertAlmostEqual(row.remaining_quantity, self.fund_low.remaining_quantity)
        self.assertAlmostEqual(row.consumed_quantity, self.fund_low.consumed_quantity)

    def test_approved_time_leaves_the_figures_it_no_longer_belongs_to(self):
        """Approving A's waiting 1.5 h: A's prepaid fund pays for them (not work in progress, the fund's
        balance drops to 2.5 h); invoicing the approved time empties the approved work in progress."""
        self.waiting.with_user(self.ts_manager).action_psa_approve(reason="checked")
        self.env.flush_all()
        got = self._grouped_read("psa.dashboard.wip", [], ["kind"], ["hours", "amount"])
        self.assertEqual(list(got[("time_approved",)]), [5.25, 501.38])
        self.assertEqual(list(got[("time_to_approve",)]), [4.0, 0.0], "B's entry waits")
        fund = self.env["psa.dashboard.prepaid"].with_user(self.reader).search([("fund_id", "=", self.fund_low.id)])
        self.assertAlmostEqual(fund.remaining_quantity, 2.5)
        self.assertAlmostEqual(fund.remaining_value, 238.75)
        entries = self.env["account.analytic.line"].search([("so_line", "=", self.time_line.id)])
        entries._psa_set_invoiced(True)
        self.env.flush_all()
        got = self._grouped_read("psa.dashboard.wip", [], ["kind"], ["hours"])
        self.assertNotIn(("time_approved",), got, "invoiced time is not work in progress any more")


@tagged("post_install", "-at_install")
class TestDashboardRecord(PsaDashboardCommon):
    """The dashboard Odoo serves: the JSON file, published to invoicing users, with its sample."""

    def test_the_dashboard_is_the_json_file(self):
        dashboard = self.env.ref("psa_dashboard.spreadsheet_dashboard_psa")
        snapshot = dashboard.get_readonly_dashboard()["snapshot"]
        self.assertEqual(snapshot["pivots"], load_dashboard()["pivots"])
        self.assertIn(self.env.ref("account.group_account_invoice"), dashboard.group_ids)

    def test_the_sample_shows_the_same_figures_without_reading_odoo(self):
        dashboard = self.env.ref("psa_dashboard.spreadsheet_dashboard_psa")
        sample = dashboard._get_sample_dashboard()
        self.assertFalse(sample["pivots"])
        self.assertNotIn("PIVOT", json.dumps(sample), "made-up values, no Odoo formula")

        def titles(data):
            return [figure["data"]["title"]["text"] for figure in data["sheets"][0]["figures"]]

        self.assertEqual(titles(sample), titles(load_dashboard()))
