from odoo import fields, models

SOURCE_TYPES = [
    ("time", "Released time"),
    ("milestone", "Milestone"),
    ("service", "Service line"),
    ("recurring", "Agreement period"),
    ("expense", "Re-invoiced expense"),
    ("downpayment", "Down payment deducted"),
    ("intercompany", "Intercompany time"),
]
LINE_STATES = [
    ("pending", "To Bill"),
    ("invoiced", "Invoiced"),
    ("skipped", "Skipped"),
    ("failed", "Failed"),
]


class PsaBillingRunLine(models.Model):
    """One thing a billing run bills (or skips, and why), per customer: the preview and the outcome."""

    _name = "psa.billing.run.line"
    _inherit = ["psa.reporting.mixin"]
    _description = "Billing Run Line"
    _order = "run_id, partner_id, group_key, id"

    run_id = fields.Many2one("psa.billing.run", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one("res.company", required=True, index=True)
    partner_id = fields.Many2one("res.partner", string="Customer", required=True, index=True)
    kind = fields.Selection([("bill", "To bill"), ("skip", "Skipped")], required=True, default="bill")
    state = fields.Selection(LINE_STATES, required=True, default="pending", index=True)
    source_type = fields.Selection(SOURCE_TYPES, string="Source")
    order_id = fields.Many2one("sale.order", string="Order", index="btree_not_null")
    sale_line_id = fields.Many2one("sale.order.line", string="Order Line", index="btree_not_null")
    contract_id = fields.Many2one("contract.contract", string="Agreement", index="btree_not_null")
    contract_line_id = fields.Many2one("contract.line", string="Agreement Line", index="btree_not_null")
    source_model = fields.Char(
        string="Source Model", index="btree_not_null", help="For sources other than order and agreement lines."
    )
    source_res_id = fields.Many2oneReference(string="Source Record", model_field="source_model")
    source_name = fields.Char(string="Source Record Name", help="The record this line bills, as it was named.")
    name = fields.Char(string="Description")
    quantity = fields.Float(digits="Product Unit of Measure")
    price_unit = fields.Float(string="Rate", digits="Product Price")
    currency_id = fields.Many2one("res.currency")
    amount = fields.Monetary(string="Amount (untaxed)", currency_field="currency_id")
    explanation = fields.Text(help="What the invoice line will say about where it comes from.")
    preview_difference = fields.Char(
        string="Changed Since Preview", help="What the confirm billed differently from the preview, and why."
    )
    skip_reason = fields.Char(string="Reason", help="Why this is not billed (skipped) or why billing failed.")
    group_key = fields.Char(help="Lines with the same key go on the same invoice.")
    move_id = fields.Many2one("account.move", string="Invoice", readonly=True, index="btree_not_null")
    timesheet_ids = fields.Many2many(
        "account.analytic.line",
        "psa_billing_run_line_timesheet_rel",
        "run_line_id",
        "timesheet_id",
        string="Time Entries",
        readonly=True,
        help="Intercompany time: the time entries this line bills (one line per project, company and rate).",
    )
