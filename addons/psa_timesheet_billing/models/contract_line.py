from collections import namedtuple

from odoo import models
from odoo.tools import float_round

from ..tools.proration import full_period, proration_days

# days billed of the full period ``period_start``..``period_end`` (both included), which has ``full`` days
Proration = namedtuple("Proration", ["covered", "full", "period_start", "period_end"])


class ContractLine(models.Model):
    _inherit = "contract.line"

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
