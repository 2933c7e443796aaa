from odoo import fields, models, tools
from odoo.tools import SQL

BILLED_KINDS = [
    ("time", "Time"),
    ("milestone", "Milestones"),
    ("agreement", "Agreements"),
    ("device", "Devices"),
    ("rmm_charge", "RMM charges"),
    ("expense", "Expenses"),
    ("intercompany", "Intercompany"),
    ("service", "Service lines"),
    ("downpayment", "Down payments deducted"),
    ("other", "Other sources"),
]


class PsaDashboardBilled(models.Model):
    """What the billing runs invoiced, one row per invoiced run line, dated by its invoice and labelled by
    the kind of source it billed. Agreement periods whose quantity is the managed-device count (psa_rmm's
    formula) are *devices*; the other agreement periods are *agreements*."""

    _name = "psa.dashboard.billed"
    _inherit = ["psa.reporting.mixin"]
    _description = "PSA Dashboard: Billed by Source"
    _auto = False
    _order = "invoice_date desc, id desc"

    run_line_id = fields.Many2one("psa.billing.run.line", string="Run Line", readonly=True)
    run_id = fields.Many2one("psa.billing.run", string="Billing Run", readonly=True)
    move_id = fields.Many2one("account.move", string="Invoice", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    invoice_date = fields.Date(readonly=True)
    kind = fields.Selection(BILLED_KINDS, string="Source Kind", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    amount = fields.Monetary(string="Billed (untaxed)", currency_field="currency_id", readonly=True)

    def _psa_query(self):
        """Hook for extensions: the query of the view (its columns are the fields of this model)."""
        return SQL(
            """
            SELECT line.id,
                   line.id AS run_line_id,
                   line.run_id,
                   line.move_id,
                   line.company_id,
                   line.partner_id,
                   COALESCE(move.invoice_date, move.date) AS invoice_date,
                   CASE WHEN line.source_type = 'recurring' AND agreement_line.qty_formula_id IN (
                                 SELECT res_id FROM ir_model_data
                                  WHERE module = 'psa_rmm' AND name = 'qty_formula_managed_devices')
                             THEN 'device'
                        WHEN line.source_type = 'recurring' THEN 'agreement'
                        WHEN line.source_type IN ('time', 'milestone', 'rmm_charge', 'expense', 'intercompany',
                                                  'service', 'downpayment')
                             THEN line.source_type
                        ELSE 'other' END AS kind,
                   line.currency_id,
                   line.amount
              FROM psa_billing_run_line line
              JOIN account_move move ON move.id = line.move_id
         LEFT JOIN contract_line agreement_line ON agreement_line.id = line.contract_line_id
             WHERE line.state = 'invoiced' AND move.state = 'posted'
            """
        )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(SQL("CREATE OR REPLACE VIEW %s AS (%s)", SQL.identifier(self._table), self._psa_query()))
