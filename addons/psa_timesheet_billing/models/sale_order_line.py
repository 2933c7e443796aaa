from odoo import api, fields, models
from odoo.osv import expression


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    psa_drawdown_ids = fields.One2many("psa.prepaid.drawdown", "so_line_id", string="Prepaid Draw-downs")

    @api.depends("analytic_line_ids.psa_approval_state", "psa_drawdown_ids.covered_hours")
    def _compute_qty_delivered(self):
        # delivered time changes when an entry is approved, rejected or reset, or paid by a prepaid fund
        res = super()._compute_qty_delivered()
        by_timesheet = self.filtered(lambda sol: sol.qty_delivered_method == "timesheet" and sol.id)
        if not by_timesheet:
            return res
        covered = dict(
            self.env["psa.prepaid.drawdown"]
            .sudo()
            ._read_group([("so_line_id", "in", by_timesheet.ids)], ["so_line_id"], ["covered_hours:sum"])
        )
        uom_hour = self.env.ref("uom.product_uom_hour")
        for line in by_timesheet:
            hours = covered.get(line, 0.0)
            if hours and line.product_uom.category_id == uom_hour.category_id:
                hours = uom_hour._compute_quantity(hours, line.product_uom)
            line.qty_delivered = max(line.qty_delivered - hours, 0.0)
        return res

    def _timesheet_compute_delivered_quantity_domain(self):
        """Only released (approved or invoiced) time is delivered, so only that time is invoiced."""
        domain = super()._timesheet_compute_delivered_quantity_domain()
        released = self.env["account.analytic.line"]._psa_released_states()
        return expression.AND([domain, [("psa_approval_state", "in", released)]])

    def _prepare_prepaid_fund_vals(self):
        """Hook for extensions: the prepaid fund a confirmed order line opens."""
        self.ensure_one()
        uom_hour = self.env.ref("uom.product_uom_hour")
        unit = self.product_id.psa_prepaid_fund_unit
        if unit == "hours" and self.product_uom.category_id == uom_hour.category_id:
            initial = self.product_uom._compute_quantity(self.product_uom_qty, uom_hour)
        elif unit == "hours":
            initial = self.product_uom_qty
        else:
            initial = self.price_subtotal
        # an amount is drawn at the order's hourly rate, when it sells time too
        timesheet_lines = self.order_id.order_line.filtered(lambda sol: sol.product_id.service_type == "timesheet")
        return {
            "name": self.env._("%(product)s (%(order)s)", product=self.product_id.name, order=self.order_id.name),
            "company_id": self.company_id.id,
            "partner_id": self.order_id.partner_id.commercial_partner_id.id,
            "project_id": self.order_id.project_id.id,
            "sale_line_id": self.id,
            "user_id": self.order_id.user_id.id,
            "unit": unit,
            "initial_quantity": initial,
            "hourly_rate": timesheet_lines[:1].price_unit,
        }

    def _psa_create_prepaid_funds(self):
        """Open one fund per confirmed prepaid-fund line; a line never opens two."""
        lines = self.filtered(lambda sol: sol.product_id.psa_prepaid_fund_unit and sol.state == "sale")
        existing = self.env["psa.prepaid.fund"].sudo().search([("sale_line_id", "in", lines.ids)]).sale_line_id
        todo = (lines - existing).filtered(lambda sol: sol.product_uom_qty > 0)
        return self.env["psa.prepaid.fund"].sudo().create([sol._prepare_prepaid_fund_vals() for sol in todo])
