from odoo import fields, models


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
