from odoo.tests import new_test_user, tagged

from odoo.addons.base.tests.common import BaseCommon


@tagged("post_install", "-at_install")
class TestDeviceBilling(BaseCommon):
    """A per-device agreement line takes its quantity from the customer's active servers in the period,
    prorated for devices added or removed mid-period, and the invoice line shows the device list."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accountant = new_test_user(
            cls.env, login="psa_rmm_accountant", groups="account.group_account_invoice,base.group_user"
        )
        cls.customer = cls.env["res.partner"].create({"name": "Per-device Customer", "is_company": True})
        cls.other = cls.env["res.partner"].create({"name": "Someone Else", "is_company": True})
        cls.product = cls.env["product.product"].create({"name": "Managed server", "type": "service"})
        device_model = cls.env["psa.device"]
        common = {"partner_id": cls.customer.id, "device_type": "server", "rmm_source": "native"}
        cls.all_month = device_model.create(
            dict(common, name="SRV-A", rmm_device_id="a", first_seen="2026-10-01 00:00:00")
        )
        cls.added_mid_month = device_model.create(
            dict(common, name="SRV-B", rmm_device_id="b", first_seen="2026-11-16 08:00:00")
        )
        cls.removed_mid_month = device_model.create(
            dict(
                common,
                name="SRV-C",
                rmm_device_id="c",
                first_seen="2026-09-01 00:00:00",
                removed_at="2026-11-10 12:00:00",
                active=False,
            )
        )
        device_model.create(
            dict(
                common,
                name="SRV-GONE",
                rmm_device_id="d",
                first_seen="2026-09-01",
                active=False,
                removed_at="2026-10-20 00:00:00",
            )
        )
        device_model.create(dict(common, name="SRV-LATER", rmm_device_id="e", first_seen="2026-12-05 00:00:00"))
        device_model.create(
            dict(common, name="WS-1", rmm_device_id="f", device_type="workstation", first_seen="2026-10-01")
        )
        device_model.create(
            dict(common, name="SRV-OTHER", rmm_device_id="g", partner_id=cls.other.id, first_seen="2026-10-01")
        )
        cls.contract = cls.env["contract.contract"].create(
            {
                "name": "Per-device agreement",
                "partner_id": cls.customer.id,
                "line_recurrence": True,
                "contract_line_ids": [
                    (
                        0,
                        0,
                        {
                            "product_id": cls.product.id,
                            "name": "Managed servers #START# - #END#",
                            "quantity": 1,
                            "uom_id": cls.env.ref("uom.product_uom_unit").id,
                            "price_unit": 30.0,
                            "recurring_rule_type": "monthly",
                            "recurring_interval": 1,
                            "date_start": "2026-11-01",
                            "qty_type": "variable",
                            "qty_formula_id": cls.env.ref("psa_rmm.qty_formula_managed_devices").id,
                            "psa_device_type": "server",
                        },
                    )
                ],
            }
        )
        cls.line = cls.contract.contract_line_ids

    def test_invoice_bills_prorated_servers_and_lists_them(self):
        invoice = self.contract.recurring_create_invoice()
        (invoice_line,) = invoice.invoice_line_ids
        # SRV-A the whole of November, SRV-B from the 16th (15/30), SRV-C until the 10th (10/30)
        self.assertAlmostEqual(invoice_line.quantity, 1.83, places=2)
        self.assertAlmostEqual(invoice_line.price_subtotal, 30.0 * 1.83, places=2)
        snapshot = invoice_line.psa_device_snapshot_id
        self.assertEqual(snapshot.device_ids, self.all_month | self.added_mid_month | self.removed_mid_month)
        self.assertEqual(
            (snapshot.period_start.isoformat(), snapshot.period_end.isoformat()), ("2026-11-01", "2026-11-30")
        )
        for name in ("SRV-A (a): 100%", "SRV-B (b): 50%", "SRV-C (c): 33%"):
            self.assertIn(name, invoice_line.name)
        self.assertNotIn("WS-1", invoice_line.name)
        self.assertNotIn("SRV-OTHER", invoice_line.name)
        # the invoicing user reads the device list from the invoice line
        self.assertIn("SRV-B", invoice_line.with_user(self.accountant).psa_device_snapshot_id.detail)

    def test_rerun_of_a_period_refreshes_the_same_snapshot(self):
        first = self.line._psa_device_quantity(self.line.date_start, self.line.date_start.replace(day=30))
        again = self.line._psa_device_quantity(self.line.date_start, self.line.date_start.replace(day=30))
        self.assertEqual(first, again)
        self.assertEqual(len(self.line.psa_device_snapshot_ids), 1)

    def test_formula_without_period_is_zero(self):
        self.assertEqual(self.line._psa_device_quantity(False, False), 0.0)
