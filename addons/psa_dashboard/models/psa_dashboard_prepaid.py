from odoo import fields, models, tools
from odoo.tools import SQL


class PsaDashboardPrepaid(models.Model):
    """One row per prepaid fund: its balance (as the fund computes it: bought less what was drawn within
    it), its value, what was drawn this month and whether it runs low (open, at or below its threshold).

    An hours fund is valued at the price of its order line, else at its top-up product's price (what one
    more hour of it costs), else not at all."""

    _name = "psa.dashboard.prepaid"
    _inherit = ["psa.reporting.mixin"]
    _description = "PSA Dashboard: Prepaid Funds"
    _auto = False
    _order = "remaining_value, id"

    fund_id = fields.Many2one("psa.prepaid.fund", string="Fund", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    unit = fields.Selection([("hours", "Hours"), ("amount", "Amount")], readonly=True)
    state = fields.Selection([("open", "Open"), ("exhausted", "Exhausted"), ("settled", "Settled")], readonly=True)
    initial_quantity = fields.Float(string="Prepaid", readonly=True)
    consumed_quantity = fields.Float(string="Consumed", readonly=True)
    remaining_quantity = fields.Float(string="Remaining", readonly=True)
    drawn_this_month = fields.Float(string="Drawn This Month", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    remaining_value = fields.Monetary(
        string="Balance",
        currency_field="currency_id",
        readonly=True,
        help="What is left: the amount, or the hours at the price they were sold at (else the top-up price).",
    )
    drawn_value_this_month = fields.Monetary(
        string="Drawn This Month (value)", currency_field="currency_id", readonly=True
    )
    is_low = fields.Boolean(string="Running Low", readonly=True)

    def _psa_query(self):
        """Hook for extensions: the query of the view (its columns are the fields of this model)."""
        return SQL(
            """
            WITH drawn AS (
                SELECT drawdown.fund_id,
                       SUM(drawdown.quantity) AS quantity,
                       SUM(COALESCE(drawdown.overage_quantity, 0)) AS overage,
                       SUM(CASE WHEN drawdown.date >= date_trunc('month', CURRENT_DATE)::date
                                THEN drawdown.quantity ELSE 0 END) AS this_month
                  FROM psa_prepaid_drawdown drawdown
              GROUP BY drawdown.fund_id
            ), funds AS (
                SELECT fund.id,
                       fund.company_id,
                       partner.commercial_partner_id AS partner_id,
                       fund.unit,
                       fund.state,
                       fund.initial_quantity,
                       COALESCE(drawn.quantity, 0) AS consumed_quantity,
                       GREATEST(fund.initial_quantity - (COALESCE(drawn.quantity, 0) - COALESCE(drawn.overage, 0)), 0)
                           AS remaining_quantity,
                       COALESCE(drawn.this_month, 0) AS drawn_this_month,
                       company.currency_id,
                       CASE WHEN fund.unit = 'hours' THEN COALESCE(sold.price_unit, topup_template.list_price, 0)
                            ELSE 1 END AS unit_value,
                       COALESCE(fund.low_balance_threshold, 0) AS threshold
                  FROM psa_prepaid_fund fund
                  JOIN res_company company ON company.id = fund.company_id
                  JOIN res_partner partner ON partner.id = fund.partner_id
             LEFT JOIN sale_order_line sold ON sold.id = fund.sale_line_id
             LEFT JOIN product_product topup ON topup.id = fund.topup_product_id
             LEFT JOIN product_template topup_template ON topup_template.id = topup.product_tmpl_id
             LEFT JOIN drawn ON drawn.fund_id = fund.id
            )
            SELECT funds.id,
                   funds.id AS fund_id,
                   funds.company_id,
                   funds.partner_id,
                   funds.unit,
                   funds.state,
                   funds.initial_quantity,
                   funds.consumed_quantity,
                   funds.remaining_quantity,
                   funds.drawn_this_month,
                   funds.currency_id,
                   ROUND((funds.remaining_quantity * funds.unit_value)::numeric, 2) AS remaining_value,
                   ROUND((funds.drawn_this_month * funds.unit_value)::numeric, 2) AS drawn_value_this_month,
                   funds.state = 'open' AND funds.remaining_quantity <= funds.threshold AS is_low
              FROM funds
            """
        )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(SQL("CREATE OR REPLACE VIEW %s AS (%s)", SQL.identifier(self._table), self._psa_query()))
