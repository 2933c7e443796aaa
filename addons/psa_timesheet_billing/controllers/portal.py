from odoo import http
from odoo.http import request

from odoo.addons.portal.controllers.portal import CustomerPortal


class PrepaidFundPortal(CustomerPortal):
    """The customer's prepaid balances on the portal, read as the portal user: record rules decide."""

    def _psa_prepaid_domain(self):
        """Hook for extensions: the funds listed on the portal for the current user's company."""
        return [("partner_id", "=", request.env.user.partner_id.commercial_partner_id.id)]

    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if "psa_prepaid_count" in counters:
            funds = request.env["psa.prepaid.fund"]
            values["psa_prepaid_count"] = (
                funds.search_count(self._psa_prepaid_domain()) if funds.has_access("read") else 0
            )
        return values

    @http.route("/my/prepaid", type="http", auth="user", methods=["GET"], website=True)
    def portal_my_prepaid(self, **_kwargs):
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "funds": request.env["psa.prepaid.fund"].search(self._psa_prepaid_domain()),
                "page_name": "psa_prepaid",
            }
        )
        return request.render("psa_timesheet_billing.portal_my_prepaid", values)

    @http.route("/my/prepaid/<int:fund_id>", type="http", auth="user", methods=["GET"], website=True)
    def portal_my_prepaid_fund(self, fund_id, **_kwargs):
        # another company's fund is answered exactly like a missing one: nothing about it leaks
        fund = request.env["psa.prepaid.fund"].search(self._psa_prepaid_domain() + [("id", "=", fund_id)])
        if not fund:
            return request.not_found()
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "fund": fund,
                "drawdowns": fund.drawdown_ids.sorted(lambda d: (d.date, d.id), reverse=True)[:50],
                "page_name": "psa_prepaid",
            }
        )
        return request.render("psa_timesheet_billing.portal_my_prepaid_fund", values)
