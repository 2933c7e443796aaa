from odoo import fields, models


class PsaRmmSite(models.Model):
    """Maps an RMM's site / customer / organization id onto the customer in Odoo, with optional
    per-customer terms for auto-resolved events (else the integration's terms apply)."""

    _name = "psa.rmm.site"
    _description = "RMM Site Mapping"
    _order = "integration_id, partner_id"
    _check_company_auto = True

    integration_id = fields.Many2one("psa.rmm.integration", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="integration_id.company_id", store=True, index=True)
    rmm_site_id = fields.Char(string="RMM Site ID", required=True, help="Site / client / organization id in the RMM.")
    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, index=True, domain="[('is_company', '=', True)]"
    )
    custom_terms = fields.Boolean(
        string="Own Terms", help="Price auto-resolved events with the terms below instead of the integration's."
    )
    event_price = fields.Float(string="Price per Event", digits="Product Price")
    included_events = fields.Integer(string="Included Events / Month")
    overage_price = fields.Float(string="Overage Price", digits="Product Price")

    _sql_constraints = [
        ("site_unique", "UNIQUE(integration_id, rmm_site_id)", "This RMM site is already mapped for this integration."),
    ]

    def _psa_terms(self):
        """(per-event price, included per month, overage price, source label). Hook for extensions
        (e.g. read them from the customer's agreement)."""
        self.ensure_one()
        source = self if self.custom_terms else self.integration_id
        label = (
            self.env._("terms of %(customer)s", customer=self.partner_id.name)
            if self.custom_terms
            else self.env._("terms of integration %(name)s", name=self.integration_id.name)
        )
        return source.event_price, source.included_events, source.overage_price, label
