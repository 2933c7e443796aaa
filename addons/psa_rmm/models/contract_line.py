from odoo import fields, models


class ContractLine(models.Model):
    _inherit = "contract.line"

    psa_device_snapshot_ids = fields.One2many("psa.device.snapshot", "contract_line_id", string="Device Snapshots")

    def _psa_device_quantity(self, period_first_date, period_last_date):
        """Quantity for the 'Managed devices (prorated)' formula: active devices of the line's type for the
        period, prorated for devices added or removed mid-period, snapshotted for the invoice."""
        if len(self) != 1 or not period_first_date or not period_last_date:
            return 0.0
        snapshot = self.env["psa.device.snapshot"]._psa_take(
            self.contract_id.partner_id,
            self.contract_id.company_id,
            self.psa_device_type,
            period_first_date,
            period_last_date,
            contract_line=self,
        )
        return snapshot.quantity

    def _prepare_invoice_line(self):
        vals = super()._prepare_invoice_line()
        if vals and self.qty_type == "variable":
            first_date = self._get_period_to_invoice(self.last_date_invoiced, self.recurring_next_date)[0]
            snapshot = self.psa_device_snapshot_ids.filtered(lambda s: s.period_start == first_date)[:1]
            if snapshot:
                vals["psa_device_snapshot_id"] = snapshot.id
                vals["name"] = self.env._(
                    "%(name)s\n%(count)s devices, %(quantity)s prorated:\n%(detail)s",
                    name=vals.get("name") or "",
                    count=snapshot.device_count,
                    quantity=snapshot.quantity,
                    detail=snapshot.detail,
                )
        return vals
