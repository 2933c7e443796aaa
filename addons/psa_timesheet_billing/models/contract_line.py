from collections import namedtuple

from odoo import api, models
from odoo.tools import float_round, format_amount

from ..tools.billable import BillableItem
from ..tools.billing_keys import agreement_group_key, exactly_once_key
from ..tools.proration import full_period, proration_days

# days billed of the full period ``period_start``..``period_end`` (both included), which has ``full`` days
Proration = namedtuple("Proration", ["covered", "full", "period_start", "period_end"])


class ContractLine(models.Model):
    """Agreement lines (OCA contract) are a billing source: the due period of each line of the
    agreements the suite covers (``contract.contract._psa_get_run_covered_domain``), one period per
    line and run, as OCA defines it, prorated only when the service starts or ends inside it."""

    _name = "contract.line"
    _inherit = ["contract.line", "psa.billable.mixin"]
    _psa_billing_sequence = 30

    # ------------------------------------------------------------------------------------------
    # Billing source (psa.billable.mixin)
    # ------------------------------------------------------------------------------------------
    @api.model
    def _psa_get_contracts_to_bill_domain(self, run):
        """Hook for extensions: agreements (OCA contract) with a period due up to the run's period end."""
        return [
            *self.env["contract.contract"]._psa_get_run_covered_domain(),
            ("company_id", "in", run.company_ids.ids),
            ("recurring_next_date", "!=", False),
            ("recurring_next_date", "<=", run.period_end),
            # an agreement with a billing cadence of its own follows it, the others their customer's
            *run._psa_customer_domain(
                "partner_id.commercial_partner_id", agreement_cadence_field="psa_billing_cadence"
            ),
        ]

    @api.model
    def _psa_collect_billable(self, run, run_lines=None):
        """Agreement lines due up to the period end: one period per line and run, as OCA does.

        Nothing is written here (the preview uses it): the agreement's dates move on only when the
        invoice is created, in the same transaction as its keys.
        """
        domain = self._psa_get_contracts_to_bill_domain(run)
        contract_lines = None
        if run_lines is not None:
            contract_lines = run_lines.contract_line_id
            if not contract_lines:
                return []
            domain.append(("id", "in", contract_lines.contract_id.ids))
        items = []
        for contract in self.env["contract.contract"].search(domain, order="id"):
            # every line due by the period end (a change-order line starting mid-period too), one period each
            lines = contract._get_lines_to_invoice(run.period_end).filtered(lambda line: not line.display_type)
            if contract_lines is not None:
                lines &= contract_lines
            if lines:
                items += lines._psa_prepare_billable_items(run)
        return items

    def _psa_prepare_billable_items(self, run):
        """The due period of each line, with OCA's invoice line and its agreement's invoice header."""
        rules = dict(self._fields["recurring_rule_type"]._description_selection(self.env))
        items = []
        for contract, lines in self.grouped("contract_id").items():
            items += lines._psa_prepare_agreement_items(run, contract, rules)
        return items

    def _psa_prepare_agreement_items(self, run, contract, rules):
        date_ref = contract.recurring_next_date
        invoice_vals = contract._prepare_invoice(date_ref)
        currency = contract.currency_id
        items = []
        for line in self:
            first_date, last_date, _next_date = line._get_period_to_invoice(
                line.last_date_invoiced, line.recurring_next_date
            )
            line_vals = line._prepare_invoice_line()
            line_vals.pop("company_id", None)
            line_vals.pop("company_currency_id", None)
            quantity = line_vals["quantity"]
            price_unit = line_vals.get("price_unit", line.price_unit)
            explanation = self.env._(
                "Agreement %(agreement)s, period %(start)s to %(end)s (%(rule)s, invoiced %(when)s): "
                "%(qty)s x %(rate)s.",
                agreement=contract.display_name,
                start=first_date,
                end=last_date,
                rule=rules.get(line.recurring_rule_type, ""),
                when=line.recurring_invoicing_type,
                qty=quantity,
                rate=format_amount(self.env, price_unit, currency),
            )
            proration = line._psa_proration(first_date, last_date)
            if proration:
                explanation += " " + self.env._(
                    "Prorated: the line runs %(covered)s of the period's %(full)s days (from %(start)s to "
                    "%(end)s of the period %(period_start)s to %(period_end)s), full rate %(rate)s.",
                    covered=proration.covered,
                    full=proration.full,
                    start=first_date,
                    end=last_date,
                    period_start=proration.period_start,
                    period_end=proration.period_end,
                    rate=format_amount(self.env, line.price_unit, currency),
                )
            line_vals["psa_billing_explanation"] = explanation
            items.append(
                BillableItem(
                    source_type="recurring",
                    company_id=contract.company_id.id,
                    partner_id=contract.partner_id.commercial_partner_id.id,
                    contract_id=contract.id,
                    contract_line_id=line.id,
                    name=line_vals["name"],
                    quantity=quantity,
                    price_unit=price_unit,
                    currency_id=currency.id,
                    amount=currency.round(quantity * price_unit * (1 - (line.discount or 0.0) / 100.0)),
                    explanation=explanation,
                    group_key=agreement_group_key(contract.id, date_ref),
                    keys=[exactly_once_key(self._name, line.id, first_date)],
                    invoice_line_vals=line_vals,
                    invoice_vals=dict(invoice_vals),
                )
            )
        return items

    def _psa_proration(self, first_date, last_date):
        """The ``Proration`` of one invoiced period (the slice ``first_date``..``last_date`` OCA
        defines for the line), or ``None`` when it bills one whole period: only a period the service
        starts or ends inside is prorated, never more than one period is billed. Variable quantities
        (device counts) prorate themselves and are left alone."""
        self.ensure_one()
        if not first_date or not last_date or self.display_type:
            return None
        if "qty_type" in self._fields and self.qty_type == "variable":
            return None
        period_end = self._psa_period_end(first_date, last_date)
        rule, interval = self.recurring_rule_type, self.recurring_interval
        covered, full = proration_days(first_date, last_date, rule, interval, period_end=period_end)
        if covered == full:
            return None
        return Proration(covered, full, *full_period(first_date, rule, interval, period_end))

    def _psa_period_end(self, first_date, last_date):
        """Hook for extensions: the end of the agreement period the slice ``first_date``..``last_date``
        is billed in, for every recurrence (daily to yearly), or ``None`` to count the period from
        ``first_date``.

        A slice ends with its period unless the line's end date cut it short: then the period is
        the one OCA would have billed without that end (in advance: from the invoice date; in
        arrears: counted from the slice's first day, a calendar month for ``monthlylastday``).
        """
        self.ensure_one()
        if self.date_end and last_date >= self.date_end:
            if self.recurring_invoicing_type == "pre-paid" and self.recurring_next_date:
                return self._get_period_to_invoice(
                    self.last_date_invoiced, self.recurring_next_date, stop_at_date_end=False
                )[1]
            return None
        return last_date

    def _prepare_invoice_line(self):
        """A line that starts or ends inside the invoiced period (change order) bills its days only,
        whatever its recurrence: the rate is prorated by (days billed / days of the period), the
        quantity kept (OCA ``contract`` bills the full period)."""
        vals = super()._prepare_invoice_line()
        if "price_unit" not in vals:
            return vals
        first_date, last_date, _next = self._get_period_to_invoice(self.last_date_invoiced, self.recurring_next_date)
        proration = self._psa_proration(first_date, last_date)
        if proration:
            covered, full = proration.covered, proration.full
            digits = self.env["decimal.precision"].precision_get("Product Price")
            vals["price_unit"] = float_round(vals["price_unit"] * covered / full, precision_digits=digits)
        return vals
