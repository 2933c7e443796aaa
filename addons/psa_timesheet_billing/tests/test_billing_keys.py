import importlib.util
import os
from datetime import date

from odoo import Command
from odoo.tests import tagged

from ..tools.billing_keys import BillingKey, exactly_once_key
from .billing_run_common import CronRunCommon

MIGRATION = os.path.join(os.path.dirname(__file__), "..", "migrations", "18.0.2.0.0", "post-migration.py")


@tagged("post_install", "-at_install")
class TestBillingKeyColumns(CronRunCommon):
    """Exactly-once keys store their source model, record and period as columns."""

    def test_billed_keys_store_their_parts(self):
        run = self.env["psa.billing.run"].create(
            {"period_end": date(2026, 10, 31), "mode": "automatic", "partner_ids": [Command.set(self.customer_a.ids)]}
        )
        run.action_confirm()
        key = self.env["psa.billing.key"].search([("move_id", "=", run.invoice_ids.id)])
        self.assertEqual(
            (key.source_model, key.source_res_id, key.period, key.name),
            ("account.analytic.line", self.time.id, "time", f"account.analytic.line:{self.time.id}:time"),
        )
        self.assertEqual(
            exactly_once_key("contract.line", 7, date(2026, 10, 1)), BillingKey("contract.line", 7, "2026-10-01")
        )

    def test_migration_moves_the_parts_of_existing_keys(self):
        self.env.cr.execute(
            "INSERT INTO psa_billing_key (name, company_id) VALUES (%s, %s), (%s, %s) RETURNING id",
            [
                "account.analytic.line:41:intercompany",
                self.env.company.id,
                "sale.order.line:9:2.5000",
                self.env.company.id,
            ],
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        spec = importlib.util.spec_from_file_location("psa_keys_migration", MIGRATION)
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        migration.migrate(self.env.cr, "18.0.1.0.0")
        keys = self.env["psa.billing.key"].browse(ids)
        self.assertEqual(
            [(key.source_model, key.source_res_id, key.period) for key in keys],
            [("account.analytic.line", 41, "intercompany"), ("sale.order.line", 9, "2.5000")],
        )
