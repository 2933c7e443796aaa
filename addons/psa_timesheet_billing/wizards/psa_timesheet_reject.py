from odoo import api, fields, models


class PsaTimesheetReject(models.TransientModel):
    _name = "psa.timesheet.reject"
    _description = "Reject Time Entries"

    line_ids = fields.Many2many("account.analytic.line", string="Time Entries", required=True)
    reason = fields.Char(required=True, help="The employee sees it on the entry.")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if "line_ids" in fields_list and self.env.context.get("active_model") == "account.analytic.line":
            values["line_ids"] = [(6, 0, self.env.context.get("active_ids", []))]
        return values

    def action_reject(self):
        self.ensure_one()
        self.line_ids.action_psa_reject(self.reason)
        return {"type": "ir.actions.act_window_close"}
