from datetime import date
from unittest.mock import patch

from odoo.models import BaseModel
from odoo.tests import new_test_user, tagged

from .common import PsaTimesheetCommon


@tagged("post_install", "-at_install")
class TestReportingMixin(PsaTimesheetCommon):
    """The reporting models' grouped reads give exactly what Odoo's own read_group gives.

    An accountant opens the pivots of billing-run lines (customer x source, state; some lines have no
    source and no order) and of prepaid draw-downs (fund x month, day, quarter, year; none has an order
    line), over dates in two years. The customer of some lines is a contact of a company (its label is
    "Company, Contact"). Every grouped read is compared with Odoo's (``BaseModel.read_group``, whose
    formatting is Odoo's own): the same rows in the same order, the same keys in the same order, labels,
    ``__range`` and ``__domain``.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accountant = new_test_user(cls.env, login="psa_report_accountant", groups="account.group_account_invoice")
        company = cls.env["res.partner"].create({"name": "Report Holding", "is_company": True})
        cls.contact = cls.env["res.partner"].create({"name": "Ada", "parent_id": company.id})
        run = cls.env["psa.billing.run"].create({"name": "Report run", "period_end": date(2026, 10, 31)})
        line_values = [
            (cls.customer, "invoiced", "time", 100.0),
            (cls.customer, "invoiced", "time", 50.0),
            (cls.customer, "invoiced", False, 30.0),
            (cls.customer, "skipped", "milestone", 20.0),
            (cls.contact, "invoiced", "service", 70.0),
            (cls.contact, "pending", False, 10.0),
        ]
        cls.env["psa.billing.run.line"].create(
            [
                {
                    "run_id": run.id,
                    "company_id": cls.env.company.id,
                    "partner_id": partner.id,
                    "state": state,
                    "source_type": source_type,
                    "amount": amount,
                    "currency_id": cls.env.company.currency_id.id,
                }
                for partner, state, source_type, amount in line_values
            ]
        )
        funds = cls.env["psa.prepaid.fund"].create(
            [
                {"name": name, "partner_id": cls.customer.id, "unit": "hours", "initial_quantity": 40.0}
                for name in ("Support hours", "Audit hours")
            ]
        )
        days = [date(2025, 12, 31), date(2026, 1, 1), date(2026, 10, 5), date(2026, 10, 5), date(2026, 10, 20)]
        timesheets = cls.env["account.analytic.line"].create(
            [
                {
                    "project_id": cls.project.id,
                    "employee_id": cls.consultant_employee.id,
                    "name": f"Entry {index}",
                    "unit_amount": 1.0 + index,
                    "date": day,
                }
                for index, day in enumerate(days)
            ]
        )
        cls.env["psa.prepaid.drawdown"].create(
            [
                {
                    "fund_id": funds[index % 2].id,
                    "company_id": cls.env.company.id,
                    "partner_id": cls.customer.id,
                    "timesheet_id": timesheet.id,
                    "date": timesheet.date,
                    "quantity": timesheet.unit_amount,
                }
                for index, timesheet in enumerate(timesheets)
            ]
        )
        cls.run_lines = cls.env["psa.billing.run.line"].with_user(cls.accountant).search([("run_id", "=", run.id)])
        cls.drawdowns = cls.env["psa.prepaid.drawdown"].with_user(cls.accountant).search([("fund_id", "in", funds.ids)])

    def _assert_same_as_odoo(self, model, domain, fields, groupby):
        """Read ``model`` grouped eagerly through the mixin (never through Odoo's formatting) and through Odoo's
        read_group; they must agree in everything. Return the rows."""
        with patch.object(BaseModel, "_read_group_format_result", side_effect=AssertionError("Odoo formatted")):
            ours = model.read_group(domain, fields, groupby, lazy=False)
        odoo = BaseModel.read_group(model, domain, fields, groupby, lazy=False)
        self.assertTrue(odoo, "the comparison needs groups")
        self.assertEqual(ours, odoo)
        self.assertEqual([list(row) for row in ours], [list(row) for row in odoo], "the same keys in the same order")
        self.assertEqual([list(row.get("__range", {})) for row in ours], [list(row.get("__range", {})) for row in odoo])
        return ours

    def test_many2one_and_selection_groups_with_empty_values(self):
        domain = [("id", "in", self.run_lines.ids)]
        rows = self._assert_same_as_odoo(self.run_lines, domain, ["amount"], ["partner_id", "source_type"])
        groups = {(row["partner_id"], row["source_type"]): row["amount"] for row in rows}
        self.assertEqual(groups[(self.contact.id, "Report Holding, Ada"), "service"], 70.0)
        self.assertEqual(groups[(self.customer.id, self.customer.name), False], 30.0, "a line without source")
        # the empty order of every line, a selection first, a domain in list form with an implicit "&"
        self._assert_same_as_odoo(
            self.run_lines,
            [["run_id", "=", self.run_lines.run_id.id], ["state", "in", ["invoiced", "pending"]]],
            ["amount"],
            ["state", "order_id", "partner_id"],
        )
        self._assert_same_as_odoo(
            self.run_lines, ["|", ("source_type", "=", False), ("amount", ">", 60)] + domain, ["amount"], ["kind"]
        )

        # an extension of _read_group gets records, as from Odoo, and the result is the same
        def extended_read_group(model, *args, **kwargs):
            rows = BaseModel._read_group(model, *args, **kwargs)
            self.assertTrue(all(isinstance(row[0], BaseModel) for row in rows), "records, not ids")
            return rows

        with patch.object(type(self.run_lines), "_read_group", extended_read_group):
            self._assert_same_as_odoo(self.run_lines, domain, ["amount"], ["partner_id", "source_type"])
        # a limit and an offset pick groups by their order: the groups are ordered by the query, as Odoo does
        for offset, limit in ((0, 2), (1, 2)):
            self.assertEqual(
                self.run_lines.read_group(domain, ["amount"], ["partner_id"], offset=offset, limit=limit, lazy=False),
                BaseModel.read_group(self.run_lines, domain, ["amount"], ["partner_id"], offset, limit, lazy=False),
            )

    def test_date_groups_by_month_day_quarter_year(self):
        domain = [("id", "in", self.drawdowns.ids)]
        rows = self._assert_same_as_odoo(self.drawdowns, domain, ["quantity"], ["fund_id", "date:month"])
        october = [row for row in rows if row["date:month"] == "October 2026"]
        self.assertEqual(sorted(row["quantity"] for row in october), [4.0, 8.0])
        self.assertEqual(october[0]["__range"], {"date:month": {"from": "2026-10-01", "to": "2026-11-01"}})
        self._assert_same_as_odoo(self.drawdowns, domain, ["quantity"], ["date:day", "so_line_id"])
        self._assert_same_as_odoo(self.drawdowns, domain, ["quantity"], ["date:year", "date:quarter", "fund_id"])
        # "date" alone is by month
        self._assert_same_as_odoo(self.drawdowns, domain, ["quantity", "overage_quantity"], ["date"])

    def test_funds_in_their_order_newest_first(self):
        """Funds are ordered newest first (date_start desc, id desc): Python puts them in that order, the
        older fund created last, two funds of one day by id; orders (date_order desc, id desc) too, with the
        group of lines without an order where PostgreSQL puts it."""
        funds = self.drawdowns.fund_id.sorted("id")
        funds[0].date_start = date(2026, 9, 1)
        funds[1].date_start = date(2025, 1, 1)
        domain = [("id", "in", self.drawdowns.ids)]
        rows = self._assert_same_as_odoo(self.drawdowns, domain, ["quantity"], ["fund_id", "date:month"])
        self.assertEqual(rows[0]["fund_id"][0], funds[0].id, "the newest fund first")
        funds[1].date_start = date(2026, 9, 1)
        rows = self._assert_same_as_odoo(self.drawdowns, domain, ["quantity"], ["fund_id", "date:month"])
        self.assertEqual(rows[0]["fund_id"][0], funds[1].id, "same day: the higher id first")
        lines = self.run_lines.browse(self.run_lines.ids)
        self._assert_same_as_odoo(lines, [("id", "in", lines.ids)], ["amount"], ["order_id", "partner_id"])

    def test_labels_in_the_language_of_the_context(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        drawdowns = self.drawdowns.with_context(lang="fr_FR")
        rows = self._assert_same_as_odoo(drawdowns, [("id", "in", drawdowns.ids)], ["quantity"], ["date:month"])
        self.assertIn("octobre 2026", [row["date:month"] for row in rows])
        # no language in the context: the company's, as Odoo takes it
        self.env.company.partner_id.lang = "fr_FR"
        rows = self._assert_same_as_odoo(
            self.drawdowns.with_context(lang=None), [("id", "in", self.drawdowns.ids)], ["quantity"], ["date:month"]
        )
        self.assertIn("octobre 2026", [row["date:month"] for row in rows])

    def test_empty_dates_formatted_as_odoo(self):
        """No reporting model here has an empty date: the formatting of such a group is compared on rows as
        _read_group gives them, one without date."""
        fund = self.drawdowns.fund_id[:1]

        domain = [("quantity", ">", 0)]
        rows = [(False, fund, 1), (date(2026, 10, 1), fund, 2), (False, fund.browse(), 3)]
        groupby = ["date:month", "fund_id"]
        ours = self.drawdowns._psa_group_rows(
            self.drawdowns._psa_rows_with_ids(rows, groupby), groupby, ["__count"], domain
        )
        odoo = [
            {"date:month": day, "fund_id": record, "__count": count, "__domain": domain} for day, record, count in rows
        ]
        BaseModel._read_group_format_result(self.drawdowns, odoo, groupby)
        self.assertEqual(ours, odoo)
        self.assertEqual([list(row) for row in ours], [list(row) for row in odoo])
        self.assertIs(ours[0]["__range"]["date:month"], False)

    def test_other_reads_left_to_odoo(self):
        """Lazy reads (Odoo fills their empty groups), weeks (locale-dependent numbers), fill_temporal: Odoo's."""
        domain = [("id", "in", self.drawdowns.ids)]
        cases = [
            (self.drawdowns, ["fund_id", "date:month"], True),
            (self.drawdowns, ["date:week"], False),
            (self.drawdowns.with_context(fill_temporal=True), ["date:month"], False),
        ]
        for model, groupby, lazy in cases:
            with (
                self.subTest(groupby=groupby, lazy=lazy),
                patch.object(type(model), "_psa_group_formatter", side_effect=AssertionError("memoised")),
            ):
                self.assertEqual(
                    model.read_group(domain, ["quantity"], groupby, lazy=lazy),
                    BaseModel.read_group(model, domain, ["quantity"], groupby, lazy=lazy),
                )

    def test_labels_kept_between_reads_until_what_they_show_changes(self):
        """The second pivot by customer computes no display name; a renamed company and its contact, a contact
        moved to another company, and a context that shows addresses all give Odoo's labels again."""
        domain = [("id", "in", self.run_lines.ids)]
        partner_class = type(self.env["res.partner"])
        self._assert_same_as_odoo(self.run_lines, domain, ["amount"], ["partner_id"])
        self.env.invalidate_all()
        with patch.object(
            partner_class, "_compute_display_name", autospec=True, side_effect=AssertionError("computed")
        ):
            rows = self.run_lines.read_group(domain, ["amount"], ["partner_id"], lazy=False)
        self.assertIn((self.contact.id, "Report Holding, Ada"), [row["partner_id"] for row in rows])

        self.contact.parent_id.name = "Report Group"
        rows = self._assert_same_as_odoo(self.run_lines, domain, ["amount"], ["partner_id"])
        self.assertIn((self.contact.id, "Report Group, Ada"), [row["partner_id"] for row in rows])
        other = self.env["res.partner"].create({"name": "Other Holding", "is_company": True})
        self.contact.parent_id = other
        rows = self._assert_same_as_odoo(self.run_lines, domain, ["amount"], ["partner_id"])
        self.assertIn((self.contact.id, "Other Holding, Ada"), [row["partner_id"] for row in rows])

        self.customer.street = "1 Report Street"
        with_address = self.run_lines.with_context(show_address=True)
        rows = self._assert_same_as_odoo(with_address, domain, ["amount"], ["partner_id"])
        label = dict(row["partner_id"] for row in rows)[self.customer.id]
        self.assertIn("1 Report Street", label)

    def test_time_entries_pivot_as_odoo(self):
        """Time awaiting approval (project x month) is a pivot of time entries: the mixin formats it."""
        domain = [("project_id", "=", self.project.id)]
        timesheets = self.env["account.analytic.line"].with_user(self.accountant)
        rows = self._assert_same_as_odoo(timesheets.sudo(), domain, ["unit_amount"], ["project_id", "date:month"])
        self.assertEqual(rows[0]["project_id"], (self.project.id, self.project.display_name))
        # a translated name (the project's), renamed: its new label
        self.project.name = "Renamed engagement"
        rows = self._assert_same_as_odoo(timesheets.sudo(), domain, ["unit_amount"], ["project_id", "date:month"])
        self.assertEqual(rows[0]["project_id"], (self.project.id, "Renamed engagement"))
        self._assert_same_as_odoo(timesheets.sudo(), domain, ["unit_amount"], ["psa_approval_state", "employee_id"])
        # employees are ordered by name alone (two may tie): every group-by is ranked then
        self._assert_same_as_odoo(timesheets.sudo(), domain, ["unit_amount"], ["employee_id", "date:month"])
