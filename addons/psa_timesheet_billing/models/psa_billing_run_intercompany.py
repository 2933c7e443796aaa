from odoo import models
from odoo.tools import format_amount

from ..tools.billing_run import billing_key


class PsaBillingRun(models.Model):
    """Intercompany billing: time logged by this company's employees on another company's project is
    billed to that company (its partner) at the intercompany rate, once per time entry. When the
    invoice is posted, OCA ``account_invoice_inter_company`` mirrors it as a vendor bill there.

    The receiving company still bills that time to its own customer (its run's time keys are
    separate from the intercompany keys)."""

    _inherit = "psa.billing.run"

    def _get_intercompany_time_domain(self):
        """Hook for extensions: released time of the run's companies' employees on other companies' projects."""
        return [
            ("project_id", "!=", False),
            ("psa_approval_state", "in", self.env["account.analytic.line"]._psa_released_states()),
            ("date", "<=", self.period_end),
            ("employee_id.company_id", "in", self.company_ids.ids),
            ("company_id", "not in", self.company_ids.ids),
        ]

    def _psa_collect_extra_sources(self, extra_sources=None):
        vals_list = super()._psa_collect_extra_sources(extra_sources)
        domain = self._get_intercompany_time_domain()
        if extra_sources is not None:
            if not extra_sources.get("account.analytic.line"):
                return vals_list
            domain.append(("id", "in", extra_sources["account.analytic.line"]))
        timesheets = self.env["account.analytic.line"].sudo().search(domain, order="company_id, project_id, date, id")
        if self.partner_ids:
            customers = self.partner_ids.commercial_partner_id
            timesheets = timesheets.filtered(lambda ts: ts.company_id.partner_id in customers)
        if not timesheets:
            return vals_list
        keys = {ts.id: billing_key("account.analytic.line", ts.id, "intercompany") for ts in timesheets}
        if extra_sources is None:
            # the preview lists what is left to bill; the confirm reports "already billed" itself
            taken = self.env["psa.billing.key"]._psa_existing(list(keys.values()))
            timesheets = timesheets.filtered(lambda ts: keys[ts.id] not in taken)
        for timesheet in timesheets:
            vals_list.append(self._psa_prepare_intercompany_vals(timesheet, keys[timesheet.id]))
        return vals_list

    def _psa_intercompany_rate(self, timesheet):
        """Hook for extensions: ``(hourly rate, rule)`` at which the employee's company bills the time."""
        seller = timesheet.employee_id.company_id
        if seller.psa_intercompany_rate:
            return seller.psa_intercompany_rate, self.env._("intercompany rate of %(company)s", company=seller.name)
        return timesheet.employee_id.sudo().hourly_cost, self.env._(
            "employee cost of %(employee)s (no intercompany rate set on %(company)s)",
            employee=timesheet.employee_id.name,
            company=seller.name,
        )

    def _psa_prepare_intercompany_vals(self, timesheet, key):
        """Hook for extensions: the run line (and invoice line) of one intercompany time entry."""
        seller, buyer = timesheet.employee_id.company_id, timesheet.company_id
        currency = seller.currency_id
        rate, rule = self._psa_intercompany_rate(timesheet)
        product = self.env.ref("psa_timesheet_billing.product_intercompany_time", raise_if_not_found=False)
        explanation = self.env._(
            "Intercompany time: %(employee)s, %(hours)s h on %(date)s, project %(project)s of %(buyer)s, "
            "at %(rate)s per hour (%(rule)s).",
            employee=timesheet.employee_id.name,
            hours=round(timesheet.unit_amount, 2),
            date=timesheet.date,
            project=timesheet.project_id.name,
            buyer=buyer.name,
            rate=format_amount(self.env, rate, currency),
            rule=rule,
        )
        name = f"{timesheet.project_id.name}: {timesheet.name or ''} ({timesheet.employee_id.name}, {timesheet.date})"
        line_vals = {
            "name": name,
            "quantity": timesheet.unit_amount,
            "price_unit": rate,
            "tax_ids": [],
            "psa_billing_explanation": explanation,
        }
        if product:
            line_vals.update(product_id=product.id, product_uom_id=product.uom_id.id)
        return {
            "kind": "bill",
            "state": "pending",
            "source_type": "intercompany",
            "source_model": timesheet._name,
            "source_res_id": timesheet.id,
            "source_name": name,
            "company_id": seller.id,
            "partner_id": buyer.partner_id.id,
            "name": name,
            "quantity": timesheet.unit_amount,
            "price_unit": rate,
            "currency_id": currency.id,
            "amount": currency.round(timesheet.unit_amount * rate),
            "explanation": explanation,
            "group_key": f"intercompany:{seller.id}-{buyer.partner_id.id}-{currency.id}",
            "_keys": [key],
            "_invoice_line_vals": line_vals,
            "_invoice_vals": self._psa_generic_invoice_vals(
                buyer.partner_id,
                seller,
                currency,
                self.env._("Intercompany time up to %(date)s", date=self.period_end),
            ),
        }
