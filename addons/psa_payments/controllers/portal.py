from psycopg2 import IntegrityError

from odoo import http
from odoo.exceptions import ValidationError
from odoo.http import request

from odoo.addons.portal.controllers.portal import CustomerPortal


class AutopayPortal(CustomerPortal):
    def _psa_my_mandates(self):
        """The current portal user's company's mandates (read with sudo, filtered on the partner)."""
        partner = request.env.user.partner_id.commercial_partner_id
        return request.env["psa.payment.mandate"].sudo().search([("partner_id", "=", partner.id)])

    def _psa_my_cards(self):
        """The cards the portal user saved (payment.token record rule: the user's own), whose company offers
        enrolment (has mandate terms)."""
        tokens = request.env["payment.token"].search([])
        # sudo: reads the provider and company of the user's own cards, found above under the record rules
        return tokens.sudo().filtered(lambda t: t.provider_id.company_id.psa_autopay_terms)

    @http.route("/my/autopay", type="http", auth="user", methods=["GET"], website=True)
    def portal_my_autopay(self, **_kwargs):
        values = self._prepare_portal_layout_values()
        mandates = self._psa_my_mandates()
        company = request.env.company
        values.update(
            {
                "mandates": mandates,
                "page_name": "autopay",
                "enrol_company": company,
                "enrol_cards": self._psa_my_cards().filtered(lambda t: t.provider_id.company_id == company),
                "can_enrol": bool(company.psa_autopay_terms)
                and not mandates.filtered(lambda m: m.state != "revoked" and m.company_id == company),
            }
        )
        return request.render("psa_payments.portal_my_autopay", values)

    @http.route("/my/autopay/enrol", type="http", auth="user", methods=["POST"], website=True)
    def portal_my_autopay_enrol(self, token_id=None, accept_terms=None, **_kwargs):
        try:
            token_id = int(token_id or 0)
        except ValueError:
            token_id = 0
        token = self._psa_my_cards().filtered(lambda t: t.id == token_id)
        if not token:
            return request.make_json_response({"error": "No such saved card of yours."}, status=404)
        company = token.provider_id.company_id
        if accept_terms != "on":
            return request.make_json_response({"error": "Please accept the auto-pay terms."}, status=400)
        if self._psa_my_mandates().filtered(lambda m: m.state != "revoked" and m.company_id == company):
            return request.make_json_response({"error": "You already have an auto-pay mandate."}, status=409)
        try:
            with request.env.cr.savepoint():
                # sudo: portal users cannot create mandates; the card was checked to be the user's own above
                request.env["psa.payment.mandate"].sudo()._psa_enrol_from_portal(token, company.psa_autopay_terms)
        except (ValidationError, IntegrityError) as error:
            return request.make_json_response({"error": str(error)}, status=409)
        return request.redirect("/my/autopay")

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
