from odoo import api, models
from odoo.osv import expression


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    @api.model
    def _timesheet_domain_get_invoiced_lines(self, sale_line_delivery):
        """Only released time is linked to the invoice that bills it."""
        domain = super()._timesheet_domain_get_invoiced_lines(sale_line_delivery)
        released = self.env["account.analytic.line"]._psa_released_states()
        return expression.AND([domain, [("psa_approval_state", "in", released)]])
