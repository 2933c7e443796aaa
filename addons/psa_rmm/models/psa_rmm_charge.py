from odoo import api, fields, models
from odoo.exceptions import UserError

from odoo.addons.psa_timesheet_billing.tools.billing_keys import exactly_once_key

CHARGE_STATES = [("to_invoice", "To invoice"), ("invoiced", "Invoiced")]


class PsaRmmCharge(models.Model):
    """A billable line for work the RMM did by itself (an auto-resolved alert), priced by the
    customer's terms. The billing run invoices the ``to_invoice`` ones (a billing source)."""

    _name = "psa.rmm.charge"
    _inherit = ["psa.billable.mixin", "psa.reporting.mixin"]
    _psa_billing_sequence = 40
    _psa_billable_order = "partner_id, date, id"
    _description = "RMM Charge"
    _order = "date desc, id desc"
    _check_company_auto = True

    event_id = fields.Many2one("psa.rmm.event", required=True, ondelete="restrict", index=True)
    integration_id = fields.Many2one("psa.rmm.integration", required=True, ondelete="restrict")
    company_id = fields.Many2one("res.company", required=True, index=True)
    partner_id = fields.Many2one("res.partner", string="Customer", required=True, index=True)
    device_id = fields.Many2one("psa.device")
    ticket_id = fields.Many2one("helpdesk.ticket")
    date = fields.Date(required=True, index=True)
    product_id = fields.Many2one("product.product", required=True)
    quantity = fields.Float(default=1.0, digits="Product Unit of Measure")
    price_unit = fields.Float(digits="Product Price")
    currency_id = fields.Many2one(related="company_id.currency_id")
    amount = fields.Monetary(compute="_compute_amount", store=True)
    explanation = fields.Text(required=True, help="Event, device and pricing rule: shown on the invoice line.")
    state = fields.Selection(CHARGE_STATES, default="to_invoice", required=True, index=True)
    invoice_line_id = fields.Many2one("account.move.line", ondelete="set null", copy=False, index=True)

    _sql_constraints = [
        ("event_unique", "UNIQUE(event_id)", "An RMM event is charged at most once."),
    ]

    @api.depends("quantity", "price_unit")
    def _compute_amount(self):
        for charge in self:
            charge.amount = charge.quantity * charge.price_unit

    @api.ondelete(at_uninstall=False)
    def _unlink_except_invoiced(self):
        if any(charge.state == "invoiced" for charge in self):
            raise UserError(self.env._("Invoiced RMM charges cannot be deleted (rule: billed history is kept)."))

    @api.model
    def _psa_billable_charges_domain(self, period_end):
        """Hook for extensions: the charges a billing run closing on ``period_end`` invoices.

        A charge whose invoice was cancelled or reversed in full by a credit note is billed again,
        like the time of such an invoice: the run's exactly-once key is freed, the link to the old
        line stays as history until the next run's invoice line replaces it."""
        return [
            ("state", "=", "to_invoice"),
            ("date", "<=", period_end),
            "|",
            "|",
            ("invoice_line_id", "=", False),
            ("invoice_line_id.parent_state", "=", "cancel"),
            ("invoice_line_id.move_id.payment_state", "=", "reversed"),
        ]

    def _psa_prepare_invoice_line_vals(self):
        """Hook for extensions: ``account.move.line`` values for each charge (same order as ``self``).

        The billing run creates the lines in its invoice and writes the line back on the charge
        (``invoice_line_id``); the charge becomes invoiced when that invoice is posted.
        """
        return [
            {
                "product_id": charge.product_id.id,
                "name": f"{charge.product_id.display_name}\n{charge.explanation}",
                "quantity": charge.quantity,
                "price_unit": charge.price_unit,
                "psa_rmm_charge_ids": [(4, charge.id)],
            }
            for charge in self
        ]

    def _psa_sync_invoiced(self):
        """Charges linked to a posted invoice line become invoiced; others (and those of an invoice a
        credit note reversed in full) go back to invoice."""
        posted = self.filtered(
            lambda c: c.invoice_line_id.parent_state == "posted"
            and c.invoice_line_id.move_id.payment_state != "reversed"
        )
        posted.filtered(lambda c: c.state != "invoiced").write({"state": "invoiced"})
        (self - posted).filtered(lambda c: c.state == "invoiced").write({"state": "to_invoice"})

    # ------------------------------------------------------------------------------------------
    # Billing source (psa.billable.mixin)
    # ------------------------------------------------------------------------------------------
    @api.model
    def _psa_get_billable_domain(self, run):
        """The RMM charges ``run`` bills: the charge's own rule, scoped to the run's companies and customers."""
        return [
            *self._psa_billable_charges_domain(run.period_end),
            ("company_id", "in", run.company_ids.ids),
            *run._psa_customer_domain("partner_id.commercial_partner_id"),
        ]

    def _psa_prepare_billable_items(self, run):
        """One item per charge, keyed once per charge and date, on the customer's invoice."""
        origin = self.env._("RMM charges up to %(date)s", date=run.period_end)
        items = []
        for charge, line_vals in zip(self, self._psa_prepare_invoice_line_vals(), strict=True):
            partner = charge.partner_id.commercial_partner_id
            company, currency = charge.company_id, charge.currency_id
            explanation = charge._psa_billing_explanation()
            item = charge._psa_prepare_source_item(
                run,
                partner,
                currency,
                line_vals["name"],
                charge.quantity,
                charge.price_unit,
                explanation,
                source_type="rmm_charge",
                source_name=charge.event_id.display_name,
                invoice_line_vals=line_vals,
            )
            item.keys = [exactly_once_key(charge._name, charge.id, charge.date)]
            item.invoice_vals = run._psa_generic_invoice_vals(partner, company, currency, origin)
            items.append(item)
        return items

    def _psa_billing_given_back(self, moves):
        """The invoice of these charges was cancelled or reversed in full: they are to invoice again
        (the run's domain finds them, their keys are free)."""
        self._psa_sync_invoiced()

    def _psa_billing_taken_back(self, moves):
        """The credit note that reversed their invoice went back to draft: the invoice bills them again."""
        self._psa_sync_invoiced()

    def _psa_billing_explanation(self):
        """Hook for extensions: the explanation of this charge's run line and invoice line."""
        self.ensure_one()
        explanation = self.env._(
            "RMM charge of %(date)s (integration %(integration)s%(ticket)s): %(explanation)s",
            date=self.date,
            integration=self.integration_id.name,
            ticket=self.env._(", ticket %(ticket)s", ticket=self.ticket_id.number) if self.ticket_id else "",
            explanation=self.explanation,
        )
        previous = self.invoice_line_id.move_id
        if previous.state == "cancel":
            explanation += " " + self.env._(
                "(billed again: invoice %(invoice)s was cancelled)",
                invoice=previous.display_name,
            )
        elif previous.payment_state == "reversed":
            explanation += " " + self.env._(
                "(billed again: invoice %(invoice)s was reversed in full by a credit note)",
                invoice=previous.display_name,
            )
        return explanation
