from odoo import fields, models

from odoo.addons.psa_timesheet_billing.tools.billing_keys import exactly_once_key


class PsaBillingRunLine(models.Model):
    _inherit = "psa.billing.run.line"

    source_type = fields.Selection(selection_add=[("rmm_charge", "RMM charge")], ondelete={"rmm_charge": "set null"})


class PsaBillingRun(models.Model):
    """The billing run invoices the RMM charges (auto-resolved alerts) up to its period end."""

    _inherit = "psa.billing.run"

    def _get_rmm_charges_to_bill_domain(self):
        """Hook for extensions: the RMM charges this run bills (the charge's own rule, scoped to the
        run's companies and customers)."""
        return [
            *self.env["psa.rmm.charge"]._psa_billable_charges_domain(self.period_end),
            ("company_id", "in", self.company_ids.ids),
            *self._psa_customer_domain("partner_id.commercial_partner_id"),
        ]

    def _psa_collect_extra_sources(self, extra_sources=None):
        vals_list = super()._psa_collect_extra_sources(extra_sources)
        domain = self._get_rmm_charges_to_bill_domain()
        if extra_sources is not None:
            if not extra_sources.get("psa.rmm.charge"):
                return vals_list
            domain.append(("id", "in", extra_sources["psa.rmm.charge"]))
        charges = self.env["psa.rmm.charge"].sudo().search(domain, order="partner_id, date, id")
        if not charges:
            return vals_list
        origin = self.env._("RMM charges up to %(date)s", date=self.period_end)
        for charge, line_vals in zip(charges, charges._psa_prepare_invoice_line_vals(), strict=True):
            vals_list.append(self._psa_prepare_rmm_charge_vals(charge, line_vals, origin))
        return vals_list

    def _psa_prepare_rmm_charge_vals(self, charge, line_vals, origin):
        """Hook for extensions: the run line (and invoice line) of one RMM charge."""
        partner = charge.partner_id.commercial_partner_id
        company, currency = charge.company_id, charge.currency_id
        explanation = self.env._(
            "RMM charge of %(date)s (integration %(integration)s%(ticket)s): %(explanation)s",
            date=charge.date,
            integration=charge.integration_id.name,
            ticket=self.env._(", ticket %(ticket)s", ticket=charge.ticket_id.number) if charge.ticket_id else "",
            explanation=charge.explanation,
        )
        previous = charge.invoice_line_id.move_id
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
        return {
            "kind": "bill",
            "state": "pending",
            "source_type": "rmm_charge",
            "source_model": charge._name,
            "source_res_id": charge.id,
            "source_name": charge.event_id.display_name,
            "company_id": company.id,
            "partner_id": partner.id,
            "name": line_vals["name"],
            "quantity": charge.quantity,
            "price_unit": charge.price_unit,
            "currency_id": currency.id,
            "amount": currency.round(charge.quantity * charge.price_unit),
            "explanation": explanation,
            "group_key": self._psa_generic_group_key(partner, company, currency),
            "_keys": [exactly_once_key(charge._name, charge.id, charge.date)],
            "_invoice_line_vals": {**line_vals, "psa_billing_explanation": explanation},
            "_invoice_vals": self._psa_generic_invoice_vals(partner, company, currency, origin),
        }
