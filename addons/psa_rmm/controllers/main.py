import json
import logging

from odoo import SUPERUSER_ID, api, http
from odoo.http import request

from ..tools.events import EventError

_logger = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-PSA-Timestamp"
SIGNATURE_HEADER = "X-PSA-Signature"
# first key of the transaction-level advisory lock that serializes the deliveries of one integration
DELIVERY_LOCK_NAMESPACE = 0x50534152  # "PSAR"


class PsaRmmController(http.Controller):
    def _json(self, status, payload):
        return request.make_response(json.dumps(payload), headers=[("Content-Type", "application/json")], status=status)

    @http.route(
        "/psa/rmm/<int:integration_id>/events",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def psa_rmm_events(self, integration_id, **_kwargs):
        """Receive one event or a batch, signed with the integration's HMAC secret (see readme/USAGE.md).

        The delivery and its events are stored and the answer given at once; the events are processed by a
        queue job (channel ``root.psa.rmm``), their outcome shows on the delivery and in the event log.
        """
        # act as OdooBot, not as the public user: notes and tickets are authored by the system
        integration = request.env["psa.rmm.integration"].with_user(SUPERUSER_ID).sudo().browse(integration_id).exists()
        if not integration or not integration.active:
            return self._json(404, {"error": "unknown_integration", "message": "No active integration with this id."})
        integration = integration.with_company(integration.company_id)
        declared = request.httprequest.content_length
        if declared and declared > integration.max_body_bytes:
            return self._json(
                413, {"error": "payload_too_large", "message": f"The body exceeds {integration.max_body_bytes} bytes."}
            )
        body = request.httprequest.get_data(cache=False)
        signature = request.httprequest.headers.get(SIGNATURE_HEADER)
        # Two identical requests (or two carrying the same event ids) may arrive at the same moment. The
        # request's own transaction took its REPEATABLE READ snapshot before anything here could wait, so it
        # cannot see what a twin commits: it only holds the per-integration lock (until the request ends),
        # and the delivery is handled in a fresh transaction started once the lock is ours. The twin then
        # reads the committed delivery and events and answers "replay" / "duplicate", without a failed query.
        request.env.cr.execute("SELECT pg_advisory_xact_lock(%s, %s)", (DELIVERY_LOCK_NAMESPACE, integration.id))
        with request.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            integration = env["psa.rmm.integration"].browse(integration.id).with_company(integration.company_id.id)
            try:
                integration._psa_authenticate(request.httprequest.headers.get(TIMESTAMP_HEADER), signature, body)
                normalized = integration._psa_parse(body)
            except EventError as error:
                # never log the secret or the signature: the code and the integration are enough
                _logger.info("RMM request refused for integration %s: %s", integration.id, error.code)
                return self._json(error.status, error.as_dict())
            # stored with its events and its processing job in one commit; processed by a job worker
            delivery, results = integration._psa_receive(normalized, signature, body_size=len(body))
            delivery_id = delivery.id
        summary = {}
        for result in results:
            summary[result["status"]] = summary.get(result["status"], 0) + 1
        return self._json(200, {"status": "ok", "delivery": delivery_id, "summary": summary, "results": results})
