from odoo import api, fields, models

from ..tools import billing
from .psa_device import DEVICE_TYPES


class PsaDeviceSnapshot(models.Model):
    """The devices of a customer and type that one period of a per-device agreement line billed,
    with each device's prorated share: what the invoice line shows."""

    _name = "psa.device.snapshot"
    _description = "Managed Device Snapshot"
    _order = "period_start desc, id desc"
    _check_company_auto = True

    contract_line_id = fields.Many2one("contract.line", string="Agreement Line", ondelete="cascade", index=True)
    partner_id = fields.Many2one("res.partner", string="Customer", required=True, index=True)
    company_id = fields.Many2one("res.company", required=True, index=True)
    device_type = fields.Selection(DEVICE_TYPES, help="Empty: every type.")
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    device_ids = fields.Many2many("psa.device", string="Devices", context={"active_test": False})
    device_count = fields.Integer(help="Devices active at some point of the period.")
    quantity = fields.Float(digits="Product Unit of Measure", help="Devices prorated by their days in the period.")
    detail = fields.Text(help="Each device and the share of the period it was managed.")

    _sql_constraints = [
        (
            "line_period_unique",
            "UNIQUE(contract_line_id, period_start)",
            "An agreement line has one device snapshot per period.",
        ),
    ]

    @api.model
    def _psa_devices_domain(self, partner, company, device_type, period_start, period_end):
        """Hook for extensions: devices of a customer that count for a period (active at some point of it)."""
        domain = [
            ("partner_id", "child_of", partner.commercial_partner_id.id),
            ("company_id", "=", company.id),
            ("first_seen", "<=", fields.Datetime.end_of(fields.Datetime.to_datetime(period_end), "day")),
            "|",
            ("active", "=", True),
            ("removed_at", ">=", fields.Datetime.to_datetime(period_start)),
        ]
        if device_type:
            domain.append(("device_type", "=", device_type))
        return domain

    @api.model
    def _psa_take(self, partner, company, device_type, period_start, period_end, contract_line=None):
        """Snapshot (or refresh the snapshot of) the devices billed for a period; idempotent per line and period."""
        devices = (
            self.env["psa.device"]
            .sudo()
            .with_context(active_test=False)
            .search(self._psa_devices_domain(partner, company, device_type, period_start, period_end), order="name")
        )
        quantity, shares = billing.prorated_quantity(
            [(device.first_seen, device.removed_at) for device in devices], period_start, period_end
        )
        detail = "\n".join(
            f"{device.name} ({device.rmm_device_id or '-'}): {share:.0%}"
            for device, share in zip(devices, shares, strict=True)
        )
        vals = {
            "partner_id": partner.commercial_partner_id.id,
            "company_id": company.id,
            "device_type": device_type or False,
            "period_start": period_start,
            "period_end": period_end,
            "device_ids": [fields.Command.set(devices.ids)],
            "device_count": len(devices),
            "quantity": quantity,
            "detail": detail,
        }
        snapshot = self.browse()
        if contract_line:
            vals["contract_line_id"] = contract_line.id
            snapshot = self.sudo().search(
                [("contract_line_id", "=", contract_line.id), ("period_start", "=", period_start)], limit=1
            )
        if snapshot:
            snapshot.write(vals)
            return snapshot
        return self.sudo().create(vals)
