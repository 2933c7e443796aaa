from odoo import api, fields, models


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
    # setup checklist (Settings > PSA)
    psa_setup_stripe_done = fields.Boolean(compute="_compute_psa_setup_stripe")

    def _psa_stripe_provider(self):
        """The company's Stripe provider (Odoo's own record for the main company)."""
        self.ensure_one()
        return (
            self.env["payment.provider"]
            .sudo()
            .search([("code", "=", "stripe"), ("company_id", "=", self.company_id.id)], order="id", limit=1)
        )

    @api.depends("company_id")
    def _compute_psa_setup_stripe(self):
        for settings in self:
            # sudo: the keys are read to say whether they are set, never shown
            provider = settings._psa_stripe_provider()
            settings.psa_setup_stripe_done = bool(
                provider
                and provider.state in ("enabled", "test")
                and provider.stripe_publishable_key
                and provider.stripe_secret_key
                and provider.stripe_webhook_secret
            )

    def action_psa_open_stripe_provider(self):
        """Open the company's Stripe provider, where its keys and webhook secret are entered."""
        self.ensure_one()
        provider = self._psa_stripe_provider()
        action = self.env["ir.actions.act_window"]._for_xml_id("payment.action_payment_provider")
        if provider:
            action.update({"res_id": provider.id, "view_mode": "form", "views": [(False, "form")]})
        return action
