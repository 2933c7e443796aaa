from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    psa_autopay_retry_days = fields.Char(
        string="Auto-pay retries (days after the first failure)",
        config_parameter="psa_payments.retry_days",
        default="3,7",
        help="Comma-separated days after the first failed charge on which it is retried, e.g. 3,7.",
    )
    psa_reminder_days = fields.Char(related="company_id.psa_reminder_days", readonly=False)
    psa_autopay_terms = fields.Text(related="company_id.psa_autopay_terms", readonly=False)
    psa_autopay_max_amount = fields.Monetary(related="company_id.psa_autopay_max_amount", readonly=False)
    psa_autopay_hold_days = fields.Integer(related="company_id.psa_autopay_hold_days", readonly=False)
