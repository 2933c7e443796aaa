from odoo import api, models
from odoo.osv import expression


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    @api.depends("analytic_line_ids.psa_approval_state")
    def _compute_qty_delivered(self):
        # delivered time changes when an entry is approved, rejected or reset
        return super()._compute_qty_delivered()

    def _timesheet_compute_delivered_quantity_domain(self):
        """Only released (approved or invoiced) time is delivered, so only that time is invoiced."""
        domain = super()._timesheet_compute_delivered_quantity_domain()
        released = self.env["account.analytic.line"]._psa_released_states()
        return expression.AND([domain, [("psa_approval_state", "in", released)]])
