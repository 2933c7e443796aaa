from odoo import fields, models


class ProductTemplate(models.Model):
    _inherit = "product.template"

    psa_prepaid_fund_unit = fields.Selection(
        [("hours", "Block of hours"), ("amount", "Prepaid amount")],
        string="Prepaid Fund",
        help="Selling this product opens a prepaid fund for the customer when the order is confirmed.",
    )
