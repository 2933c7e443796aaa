import hashlib
import logging

from odoo import http
from odoo.http import request

from ..tools import locks
from ..tools.lead_payload import MAX_PAYLOAD_BYTES, LeadPayloadError, parse_lead_payload

_logger = logging.getLogger(__name__)

STATUS_BY_CODE = {"payload_too_large": 413}
IDEMPOTENCY_HEADER = "Idempotency-Key"


class PsaLeadsController(http.Controller):
    @http.route("/psa/leads", type="http", auth="public", methods=["POST"], csrf=False, save_session=False)
    def psa_post_lead(self, **_kwargs):
        """Receive a lead as JSON from an external website authenticated by its API key
        (``Authorization: Bearer <key>``). Bad input gets a 4xx JSON error and nothing is written.

        An ``Idempotency-Key`` header makes a retry safe: the same key within 24 hours gets the first answer
        again (header ``Idempotent-Replayed: true``) and writes nothing; with another body it gets a 422.
        """
        length = request.httprequest.content_length
        if length and length > MAX_PAYLOAD_BYTES:
            return self._error("payload_too_large", "The payload is too large.", 413)
        header = request.httprequest.headers.get("Authorization", "")
        key = header[7:].strip() if header.lower().startswith("bearer ") else ""
        source = request.env["psa.lead.source"]._psa_authenticate(key)
        if not source:
            return self._error("unauthorized", "Missing or invalid API key.", 401)
        raw = request.httprequest.get_data(cache=False)[: MAX_PAYLOAD_BYTES + 1]
        try:
            payload = parse_lead_payload(raw)
        except LeadPayloadError as error:
            # Never log the payload or the key: they hold personal data and secrets.
            _logger.info("Lead from source %s refused: %s", source.id, error.code)
            return self._error(error.code, str(error), STATUS_BY_CODE.get(error.code, 400))
        idempotency_key = request.httprequest.headers.get(IDEMPOTENCY_HEADER)
        if idempotency_key is not None:
            idempotency_key = idempotency_key.strip()
            if not request.env["psa.lead.idempotency.key"]._psa_is_valid_key(idempotency_key):
                return self._error(
                    "invalid_idempotency_key", "The Idempotency-Key must be 1 to 255 printable ASCII characters.", 400
                )
        # The same lead may be posted several times at once (a website retrying after a timeout). The
        # request's transaction took its REPEATABLE READ snapshot when it authenticated the source, so it
        # cannot see what a twin commits later: it only holds the locks (until the request ends), taken in a
        # fixed order (the request's key, then the lead's key), and the post is handled in a fresh transaction
        # started once the locks are ours. The twin then finds the committed lead (merged) or the kept answer
        # (replayed), without a failed query. The same idiom as the RMM endpoint (psa_rmm).
        cr = request.env.cr
        if idempotency_key:
            cr.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                (locks.LEAD_REQUEST_NAMESPACE, locks.lock_key(source.id, idempotency_key)),
            )
        cr.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)",
            (locks.LEAD_NAMESPACE, locks.lock_key(source._psa_get_lead_lock_key(payload["email"]))),
        )
        with request.env.registry.cursor() as fresh_cr:
            # the source as authenticated (sudo: the public endpoint acts for the source it checked the key of)
            fresh_source = source.with_env(source.env(cr=fresh_cr))
            status, answer, replayed = fresh_source._psa_answer_post(
                payload, idempotency_key=idempotency_key, request_hash=hashlib.sha256(raw).hexdigest()
            )
        headers = [("Idempotent-Replayed", "true")] if replayed else []
        return request.make_json_response(answer, headers=headers, status=status)

    def _error(self, code, message, status):
        return request.make_json_response({"error": code, "message": message}, status=status)
