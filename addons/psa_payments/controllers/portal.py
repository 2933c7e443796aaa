from odoo import http
from odoo.http import request

from odoo.addons.portal.controllers.portal import CustomerPortal


class AutopayPortal(CustomerPortal):
    def _psa_my_mandates(self):
        """The current portal user's company's mandates (read with sudo, filtered on the partner)."""
        partner = request.env.user.partner_id.commercial_partner_id
        return request.env["psa.payment.mandate"].sudo().search([("partner_id", "=", partner.id)])

    @http.route("/my/autopay", type="http", auth="user", methods=["GET"], website=True)
    def portal_my_autopay(self, **_kwargs):
        values = self._prepare_portal_layout_values()
        values.update({"mandates": self._psa_my_mandates(), "page_name": "autopay"})
        return request.render("psa_payments.portal_my_autopay", values)

    @http.route("/my/autopay/<int:mandate_id>/revoke", type="http", auth="user", methods=["POST"], website=True)
    def portal_my_autopay_revoke(self, mandate_id, **_kwargs):
        mandate = self._psa_my_mandates().filtered(lambda m: m.id == mandate_id)
        if not mandate:
            return request.make_json_response({"error": "No such auto-pay mandate."}, status=404)
        if mandate.state == "revoked":
            return request.make_json_response({"error": "This auto-pay mandate is already revoked."}, status=409)
        mandate.action_revoke(
            reason=request.env._("Revoked by %(user)s from the customer portal.", user=request.env.user.name)
        )
        return request.redirect("/my/autopay")
