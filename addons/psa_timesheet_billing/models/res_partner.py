from odoo import Command, api, fields, models
from odoo.exceptions import UserError

from .psa_billing_run import BILLING_CADENCES


class ResPartner(models.Model):
    _inherit = "res.partner"

    psa_prepaid_fund_ids = fields.One2many("psa.prepaid.fund", "partner_id", string="Prepaid Funds")
    psa_prepaid_remaining = fields.Float(
        string="Prepaid Balance", compute="_compute_psa_prepaid_remaining", help="Remaining on the open funds."
    )

    psa_prepaid_display = fields.Char(
        string="Prepaid Left", compute="_compute_psa_prepaid_remaining", help="What is left, with its unit."
    )

    def _compute_psa_prepaid_remaining(self):
        if not self.env["psa.prepaid.fund"].has_access("read"):
            self.psa_prepaid_remaining = 0.0
            self.psa_prepaid_display = False
            return
        funds = self.env["psa.prepaid.fund"].search(
            [("partner_id", "in", self.commercial_partner_id.ids), ("state", "=", "open")]
        )
        for partner in self:
            mine = funds.filtered(lambda f, p=partner: f.partner_id == p.commercial_partner_id)
            partner.psa_prepaid_remaining = sum(mine.mapped("remaining_quantity"))
            partner.psa_prepaid_display = mine._psa_remaining_display()

    psa_billing_hold = fields.Boolean(
        string="Billing on Hold",
        tracking=True,
        help="Billing runs skip this customer (the preview says so) until the hold is lifted.",
    )
    psa_billing_hold_reason = fields.Char(string="Hold Reason", tracking=True)
    psa_billing_cadence = fields.Selection(
        BILLING_CADENCES,
        string="Billing Cadence",
        tracking=True,
        index=True,
        help="How often the billing runs bill this customer. As you go: what is released (approved time, reached "
        "milestones, charges) is billed by the next as-you-go run (hourly), one invoice per customer and day. "
        "Weekly, monthly: by the weekly or monthly run. Empty: the company's billing run frequency.",
    )

    @api.model
    def _commercial_fields(self):
        # billed as the company it belongs to: contacts follow their commercial partner
        return [*super()._commercial_fields(), "psa_billing_cadence"]

    def action_psa_bill_now(self):
        """*Bill now* from the Action menu: a billing run up to today for the selected customers only, previewed
        (or invoiced at once when the company's runs are fully automatic), opened to read what it bills and why
        it skips the rest: the same run, and the same reasons, as the crons'."""
        customers = self.commercial_partner_id
        if not customers:
            raise UserError(self.env._("Select the customers to bill."))
        today = fields.Date.context_today(self)
        mode = self.env["ir.config_parameter"].sudo().get_param("psa_timesheet_billing.monthly_run_mode", "preview")
        run = self.env["psa.billing.run"].create(
            {
                "period_end": today,
                "invoice_date": today,
                "partner_ids": [Command.set(customers.ids)],
                "mode": mode if mode in ("preview", "automatic") else "preview",
            }
        )
        run.message_post(
            body=self.env._(
                "Created by %(user)s from the customers' Bill now: %(customers)s.",
                user=self.env.user.name,
                customers=", ".join(customers.mapped("display_name")),
            )
        )
        if run.mode == "automatic":
            run.action_confirm()
        else:
            run.action_preview()
        return {
            "type": "ir.actions.act_window",
            "res_model": "psa.billing.run",
            "res_id": run.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
        }
