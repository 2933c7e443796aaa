from odoo import fields, http
from odoo.http import request

from odoo.addons.portal.controllers.portal import CustomerPortal


class StatementPortal(CustomerPortal):
    def _psa_statement_values(self):
        """The portal user's open invoices and what auto-pay will do with them.

        Read with the portal user's own rights: the portal record rules of invoices (the customer follows them)
        and of mandates (the customer's own) decide what is shown.
        """
        partner = request.env.user.partner_id.commercial_partner_id
        invoices = request.env["account.move"].search(
            [
                ("commercial_partner_id", "=", partner.id),
                ("move_type", "=", "out_invoice"),
                ("state", "=", "posted"),
                ("payment_state", "in", ("not_paid", "partial")),
                ("amount_residual", ">", 0),
            ],
            order="invoice_date_due, id",
        )
        mandates = request.env["psa.payment.mandate"].search([("state", "=", "active")])
        today = fields.Date.context_today(invoices)
        overdue = invoices.filtered(lambda m: m.invoice_date_due and m.invoice_date_due < today)
        totals = {}
        for invoice in invoices:
            totals.setdefault(invoice.currency_id, [0.0, 0.0])
            totals[invoice.currency_id][0] += invoice.amount_residual
            if invoice in overdue:
                totals[invoice.currency_id][1] += invoice.amount_residual
        return {
            "partner": partner,
            "invoices": invoices,
            "overdue": overdue,
            "totals": totals,
            "mandates": mandates,
            # sudo: reads only the attempts of the invoices listed above, which the user may see
            "forecast": invoices.sudo()._psa_autopay_forecast(mandates.sudo()),
            "page_name": "statement",
        }

    @http.route("/my/statement", type="http", auth="user", methods=["GET"], website=True)
    def portal_my_statement(self, **_kwargs):
        values = self._prepare_portal_layout_values()
        values.update(self._psa_statement_values())
        return request.render("psa_payments.portal_my_statement", values)
