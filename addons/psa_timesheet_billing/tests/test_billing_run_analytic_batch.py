from datetime import date
from unittest.mock import patch

from odoo.tests import tagged

from .billing_run_common import BillingRunCommon


@tagged("post_install", "-at_install")
class TestBillingRunAnalyticBatch(BillingRunCommon):
    """The run looks up the analytic account of its order lines' projects for the whole batch at once
    (``sale.order.line._psa_project_analytic_distributions``); each invoice line must get what sale_project's
    own line-by-line lookup gives it, in every case that lookup tells apart."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        plan = cls.env["account.analytic.plan"].create({"name": "Batch lookup plan"})
        cls.account_x, cls.account_y = cls.env["account.analytic.account"].create(
            [{"name": "Account X", "plan_id": plan.id}, {"name": "Account Y", "plan_id": plan.id}]
        )
        order = cls._create_order(cls.customer_a, [(cls.product_time, 10, 100.0)] * 8)
        cls.lines = dict(zip("ABCDEFGH", order.order_line.sorted("id"), strict=True))
        project_values = {"partner_id": cls.customer_a.id, "allow_timesheets": True, "allow_billable": True}

        def project(name, account, sale_line=None, **values):
            return cls.env["project.project"].create(
                {
                    **project_values,
                    "name": name,
                    "account_id": account.id,
                    "sale_line_id": sale_line and sale_line.id,
                    **values,
                }
            )

        def task(project_record, sale_line, **values):
            return cls.env["project.task"].create(
                {
                    "name": f"Task of {sale_line.id}",
                    "project_id": project_record.id,
                    "sale_line_id": sale_line.id,
                    **values,
                }
            )

        project("Sells A", cls.account_x, cls.lines["A"])
        task(project("Bills B through a task", cls.account_y), cls.lines["B"])
        project("Sells C", cls.account_x, cls.lines["C"])
        task(project("Bills C through a task", cls.account_y), cls.lines["C"])
        project("Sells D", cls.account_x, cls.lines["D"])
        project("Sells D too", cls.account_x, cls.lines["D"])
        project("Sold E, archived", cls.account_y, cls.lines["E"], active=False)
        cls.lines["F"].analytic_distribution = {cls.account_y.id: 100}
        project("Sells F", cls.account_x, cls.lines["F"])
        # G: no project at all
        task(project("Bills H through an archived task", cls.account_y), cls.lines["H"], active=False)

    def test_batch_lookup_gives_what_sale_project_gives(self):
        sale_lines = self.env["sale.order.line"].union(*self.lines.values())
        batch = sale_lines._psa_project_analytic_distributions()
        by_name = {name: batch.get(line.id) for name, line in self.lines.items()}
        self.assertEqual(
            by_name,
            {
                "A": {self.account_x.id: 100},
                "B": {self.account_y.id: 100},
                "C": None,  # two accounts: sale_project gives none
                "D": {self.account_x.id: 100},  # two projects, one account
                "E": None,  # an archived project is not looked at
                "F": None,  # a line with its own distribution keeps it
                "G": None,
                "H": None,  # nor an archived task
            },
        )
        for name, line in self.lines.items():
            given = {"analytic_distribution": batch[line.id]} if line.id in batch else {}
            self.assertEqual(
                line._prepare_invoice_line(**given).get("analytic_distribution"),
                line._prepare_invoice_line().get("analytic_distribution"),
                f"order line {name}",
            )

    def test_run_invoice_lines_carry_the_project_account(self):
        order = self._create_order(self.customer_b, [(self.product_time, 10, 100.0)])
        project = self.env["project.project"].create(
            {
                "name": "Engagement with its own account",
                "partner_id": self.customer_b.id,
                "allow_timesheets": True,
                "allow_billable": True,
                "account_id": self.account_y.id,
                "sale_line_id": order.order_line.id,
            }
        )
        self._log_time(order.order_line, project, [(date(2026, 10, 15), 3.0)])
        self.assertEqual(order.order_line._prepare_invoice_line()["analytic_distribution"], {self.account_y.id: 100})
        run = self._new_run(partner_ids=[(6, 0, self.customer_b.ids)], mode="automatic")
        # the batch's lookup gives the account, so sale_project's own lookup (a grouped read of the projects
        # per order line) does not run
        project_model = type(self.env["project.project"])
        project_read_group = project_model._read_group
        looked_up = []

        def spy(records, domain, *args, **kwargs):
            if any(isinstance(leaf, list | tuple) and leaf[0] == "tasks.sale_line_id" for leaf in domain):
                looked_up.append(domain)
            return project_read_group(records, domain, *args, **kwargs)

        with patch.object(project_model, "_read_group", spy):
            run.action_confirm()
        self.assertEqual(looked_up, [])
        invoice_line = run.invoice_ids.invoice_line_ids
        self.assertEqual(len(invoice_line), 1)
        self.assertEqual(invoice_line.analytic_distribution, {str(self.account_y.id): 100.0})
