from odoo import api, fields, models


class PsaExampleFee(models.Model):
    """A one-off fee, billed once by the billing run: a whole billing source in one small model."""

    _name = "psa.example.fee"
    _inherit = ["psa.billable.mixin"]
    _description = "Example Fee"

    name = fields.Char(required=True)
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company)
    partner_id = fields.Many2one("res.partner", string="Customer", required=True)
    date = fields.Date(required=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    amount = fields.Monetary()

    @api.model
    def _psa_get_billable_domain(self, run):
        # the mixin's domain: the run's companies and customers, not billed yet (its keys)
        return [*super()._psa_get_billable_domain(run), ("date", "<=", run.period_end)]

    def _psa_prepare_billable_items(self, run):
        return [
            fee._psa_prepare_source_item(
                run,
                fee.partner_id,
                fee.currency_id,
                fee.name,
                1.0,
                fee.amount,
                self.env._("Example fee %(name)s of %(date)s.", name=fee.name, date=fee.date),
            )
            for fee in self
        ]
