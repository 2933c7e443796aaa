import logging

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression

from ..tools.billing_keys import exactly_once_key
from .psa_billing_run import BILLING_CADENCES

_logger = logging.getLogger(__name__)


class ContractContract(models.Model):
    _inherit = "contract.contract"

    psa_billing_cadence = fields.Selection(
        BILLING_CADENCES,
        string="Billing Cadence",
        tracking=True,
        index=True,
        help="Which billing run bills this agreement's periods when it differs from its customer's cadence: "
        "as you go (the next hourly run once a period is due), weekly or monthly. Empty: the customer's cadence.",
    )

    @api.model
    def _psa_get_run_covered_domain(self):
        """Hook for extensions: the agreements the billing run owns (customer agreements).

        The billing run is their only scheduled invoicing: OCA's cron "Generate Recurring Invoices
        from Contracts" leaves them alone. Other agreements (vendor agreements) keep OCA's behaviour.
        """
        return [("contract_type", "=", "sale")]

    @api.model
    def cron_recurring_create_invoice(self, date_ref=None):
        """OCA's scheduled invoicing leaves the agreements the billing run owns to the run."""
        return super(ContractContract, self.with_context(psa_leave_run_agreements=True)).cron_recurring_create_invoice(
            date_ref
        )

    def _get_contracts_to_invoice_domain(self, date_ref=None):
        domain = super()._get_contracts_to_invoice_domain(date_ref)
        if self.env.context.get("psa_leave_run_agreements"):
            domain = expression.AND([domain, ["!", *expression.normalize_domain(self._psa_get_run_covered_domain())]])
        return domain

    def _psa_period_keys(self, date_ref=False):
        """The exactly-once keys of the agreement lines the next invoice of each agreement would bill."""
        keys = {}
        for contract in self:
            reference = date_ref or contract.recurring_next_date
            if not reference:
                continue
            for line in contract._get_lines_to_invoice(reference).filtered(lambda line: not line.display_type):
                first_date = line._get_period_to_invoice(line.last_date_invoiced, line.recurring_next_date)[0]
                keys[line.id] = exactly_once_key("contract.line", line.id, first_date)
        return keys

    def _recurring_create_invoice(self, date_ref=False):
        """OCA's own invoicing takes the billing run's exactly-once keys too.

        An agreement whose period was already billed (by a billing run, or by an earlier attempt
        whose date update was lost) is left out with a log line instead of being billed twice.
        """
        keys = self._psa_period_keys(date_ref)
        taken = self.env["psa.billing.key"].sudo()._psa_existing(list(keys.values()))
        blocked = self.filtered(lambda contract: any(keys.get(line.id) in taken for line in contract.contract_line_ids))
        for contract in blocked:
            _logger.warning(
                "agreement %s: period already billed on %s, not billed again",
                contract.display_name,
                ", ".join(
                    sorted(
                        {
                            taken[keys[line.id]] or "?"
                            for line in contract.contract_line_ids
                            if keys.get(line.id) in taken
                        }
                    )
                ),
            )
        moves = super(ContractContract, self - blocked)._recurring_create_invoice(date_ref)
        keys_by_move = {}
        for move in moves:
            move_keys = [keys[line_id] for line_id in move.invoice_line_ids.contract_line_id.ids if line_id in keys]
            if move_keys:
                keys_by_move[move.id] = move_keys
        for company in moves.company_id:
            company_keys = {
                move_id: k for move_id, k in keys_by_move.items() if moves.browse(move_id).company_id == company
            }
            if self.env["psa.billing.key"].sudo()._psa_insert(company_keys, None, company):
                raise UserError(
                    self.env._(
                        "Exactly-once billing: an agreement period was billed by a billing run at the same time. "
                        "Nothing was invoiced; run the agreement invoicing again."
                    )
                )
        return moves
