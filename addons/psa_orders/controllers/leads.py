import logging

from odoo import http
from odoo.http import request

from ..tools.lead_payload import MAX_PAYLOAD_BYTES, LeadPayloadError, parse_lead_payload

_logger = logging.getLogger(__name__)

STATUS_BY_CODE = {"payload_too_large": 413}


class PsaLeadsController(http.Controller):
    @http.route("/psa/leads", type="http", auth="public", methods=["POST"], csrf=False, save_session=False)
    def psa_post_lead(self, **_kwargs):
        """Receive a lead as JSON from an external website authenticated by its API key
        (``Authorization: Bearer <key>``). Bad input gets a 4xx JSON error and nothing is written."""
        length = request.httprequest.content_length
        if length and length > MAX_PAYLOAD_BYTES:
            return self._error("payload_too_large", "The payload is too large.", 413)
        header = request.httprequest.headers.get("Authorization", "")
        key = header[7:].strip() if header.lower().startswith("bearer ") else ""
        source = request.env["psa.lead.source"]._psa_authenticate(key)
        if not source:
            return self._error("unauthorized", "Missing or invalid API key.", 401)
        try:
            payload = parse_lead_payload(request.httprequest.get_data(cache=False)[: MAX_PAYLOAD_BYTES + 1])
        except LeadPayloadError as error:
            # Never log the payload or the key: they hold personal data and secrets.
            _logger.info("Lead from source %s refused: %s", source.id, error.code)
            return self._error(error.code, str(error), STATUS_BY_CODE.get(error.code, 400))
        lead, merged = source._psa_receive_lead(payload)
        return request.make_json_response({"id": lead.id, "merged": merged}, status=200 if merged else 201)

    def _error(self, code, message, status):
        return request.make_json_response({"error": code, "message": message}, status=status)
