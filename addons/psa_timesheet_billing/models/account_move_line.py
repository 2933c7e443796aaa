from odoo import api, fields, models
from odoo.osv import expression


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    psa_billing_explanation = fields.Text(
        string="Billing Explanation",
        copy=False,
        help="Why this line was billed: which time entries, milestone or agreement period, at which rate.",
    )

    @api.model
    def _timesheet_domain_get_invoiced_lines(self, sale_line_delivery):
        """Only released time is linked to the invoice that bills it."""
        domain = super()._timesheet_domain_get_invoiced_lines(sale_line_delivery)
        released = self.env["account.analytic.line"]._psa_released_states()
        return expression.AND([domain, [("psa_approval_state", "in", released)]])
