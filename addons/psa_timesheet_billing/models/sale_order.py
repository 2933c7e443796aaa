from odoo import fields, models


class SaleOrder(models.Model):
    _inherit = "sale.order"

    psa_topup_fund_id = fields.Many2one(
        "psa.prepaid.fund",
        string="Tops Up Fund",
        index="btree_not_null",
        copy=False,
        readonly=True,
        help="The prepaid fund this quotation tops up: confirming it adds the bought quantity to the fund.",
    )

    def action_confirm(self):
        res = super().action_confirm()
        self.order_line._psa_create_prepaid_funds()
        self.order_line._psa_apply_topups()
        return res
