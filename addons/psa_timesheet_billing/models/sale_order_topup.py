from odoo import api, fields, models
from odoo.tools import SQL


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
        self.order_line._psa_apply_topups()
        return res


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    psa_topup_fund_id = fields.Many2one("psa.prepaid.fund", string="Tops Up Fund", index="btree_not_null", copy=False)
    psa_topup_applied = fields.Boolean(
        string="Top-up Applied", readonly=True, copy=False, help="The bought quantity was added to the fund."
    )

    def _psa_create_prepaid_funds(self):
        # a top-up line adds to its fund instead of opening a second one
        return super(SaleOrderLine, self.filtered(lambda sol: not sol.psa_topup_fund_id))._psa_create_prepaid_funds()

    def _psa_topup_quantity(self, unit):
        """Hook for extensions: the hours or amount this confirmed top-up line adds to a fund."""
        self.ensure_one()
        if unit == "amount":
            return self.price_subtotal
        uom_hour = self.env.ref("uom.product_uom_hour")
        if self.product_uom.category_id == uom_hour.category_id:
            return self.product_uom._compute_quantity(self.product_uom_qty, uom_hour)
        return self.product_uom_qty

    @api.model
    def _psa_claim_topups(self, lines):
        """Mark ``lines`` applied in one statement and return those this transaction won.

        Two confirmations at once (a double click, a retried RPC call) do not both reach this point: the
        order's row is locked first (``psa_orders`` ``action_confirm``) and the second is run again after the
        first committed, then refused as already confirmed. This claim is the second guard: a line already
        applied is never applied again, whoever confirms.
        """
        if not lines:
            return lines
        rows = self.env.execute_query(
            SQL(
                "UPDATE sale_order_line SET psa_topup_applied = TRUE"
                " WHERE id = ANY(%s) AND psa_topup_applied IS NOT TRUE RETURNING id",
                lines.ids,
            )
        )
        lines.invalidate_recordset(["psa_topup_applied"])
        return self.browse([row[0] for row in rows])

    def _psa_apply_topups(self):
        """Add the quantity of the confirmed top-up lines to their funds, exactly once."""
        lines = self.filtered(lambda sol: sol.psa_topup_fund_id and sol.state == "sale" and not sol.psa_topup_applied)
        for line in self._psa_claim_topups(lines).sudo():
            fund = line.psa_topup_fund_id
            fund._psa_receive_topup(line._psa_topup_quantity(fund.unit), line)
        return lines
