from odoo import api, fields, models

CADENCE_CRONS = {
    "monthly": "psa_timesheet_billing.ir_cron_psa_billing_run_monthly",
    "weekly": "psa_timesheet_billing.ir_cron_psa_billing_run_weekly",
    "as_you_go": "psa_timesheet_billing.ir_cron_psa_billing_run_as_you_go",
}


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    psa_billing_run_mode = fields.Selection(
        [("preview", "Preview first"), ("automatic", "Fully automatic")],
        string="Runs Created by the Crons",
        default="preview",
        config_parameter="psa_timesheet_billing.monthly_run_mode",
        help="How the runs the monthly or weekly cron creates (per the billing run frequency) go on.",
    )
    psa_billing_run_batch_size = fields.Integer(
        string="Invoices per Batch",
        default=50,
        config_parameter="psa_timesheet_billing.run_batch_size",
        help="A billing run commits after each batch of this many invoices; a crash loses at most one batch.",
    )
    psa_billing_run_frequency = fields.Selection(
        related="company_id.psa_billing_run_frequency", readonly=False, string="Billing Run Frequency"
    )
    psa_intercompany_rate = fields.Monetary(
        related="company_id.psa_intercompany_rate", readonly=False, currency_field="currency_id"
    )
    psa_billing_run_send_invoices = fields.Boolean(
        related="company_id.psa_billing_run_send_invoices", readonly=False, string="Send Invoices of Automatic Runs"
    )
    psa_billing_zero_total = fields.Selection(
        related="company_id.psa_billing_zero_total", readonly=False, string="Invoices of 0.00"
    )
    psa_prepaid_topup = fields.Boolean(related="company_id.psa_prepaid_topup", readonly=False)
    psa_finance_user_id = fields.Many2one(related="company_id.psa_finance_user_id", readonly=False)
    psa_approval_reminder_days = fields.Integer(
        string="Remind of Time Waiting (days)",
        default=3,
        config_parameter="psa_timesheet_billing.approval_reminder_days",
        help="Time waiting for approval this many days after its date gives its project manager an activity; "
        "0: no reminder.",
    )
    # setup checklist (Settings > PSA)
    psa_setup_approval_rules_done = fields.Boolean(compute="_compute_psa_setup_billing")
    psa_setup_approval_rule_count = fields.Integer(compute="_compute_psa_setup_billing")
    psa_setup_cadence_done = fields.Boolean(compute="_compute_psa_setup_billing")

    @api.depends("company_id", "psa_billing_run_frequency", "psa_finance_user_id")
    def _compute_psa_setup_billing(self):
        for settings in self:
            company = settings.company_id
            # sudo: only counts and whether the cron runs are shown, on a page for administrators
            count = self.env["psa.approval.rule"].sudo().search_count([("company_id", "=", company.id)])
            xmlid = CADENCE_CRONS.get(settings.psa_billing_run_frequency)
            cron = self.env.ref(xmlid, raise_if_not_found=False) if xmlid else None
            settings.psa_setup_approval_rule_count = count
            settings.psa_setup_approval_rules_done = bool(count)
            settings.psa_setup_cadence_done = bool(
                cron and cron.sudo().active and settings.psa_billing_run_frequency and settings.psa_finance_user_id
            )
