import json
import threading

from odoo import api, fields, models

# Stripe keeps an idempotency key for 24 hours; so does POST /psa/leads.
KEY_LIFETIME_HOURS = 24
MAX_KEY_LENGTH = 255


class PsaLeadIdempotencyKey(models.Model):
    """The first answer to a post to ``/psa/leads`` that carried an ``Idempotency-Key`` header.

    The same key from the same source within 24 hours gets this answer again and writes nothing; the same key
    with another body is refused. Keys older than 24 hours are forgotten (the daily clean-up deletes them).
    """

    _name = "psa.lead.idempotency.key"
    _description = "Lead post Idempotency-Key"
    _order = "create_date desc, id desc"
    _rec_name = "key"

    source_id = fields.Many2one("psa.lead.source", required=True, ondelete="cascade", index=True, readonly=True)
    company_id = fields.Many2one(related="source_id.company_id", store=True, index=True)
    key = fields.Char(required=True, readonly=True, help="The Idempotency-Key header of the first post.")
    request_hash = fields.Char(required=True, readonly=True, help="SHA-256 of the first post's body.")
    response_status = fields.Integer(required=True, readonly=True)
    response_body = fields.Text(required=True, readonly=True, help="The first answer, as JSON.")
    lead_id = fields.Many2one("crm.lead", readonly=True, ondelete="set null", index="btree_not_null")

    _sql_constraints = [
        ("source_key_unique", "unique(source_id, key)", "An Idempotency-Key is used once per lead source."),
    ]

    @api.model
    def _psa_is_valid_key(self, key):
        """Printable ASCII, 1 to 255 characters (Stripe accepts up to 255)."""
        return bool(key) and len(key) <= MAX_KEY_LENGTH and all(" " <= char <= "~" for char in key)

    @api.model
    def _psa_find(self, source, key):
        """The answer kept for ``key`` of ``source`` in the last 24 hours; an older one is forgotten now."""
        known = self.search([("source_id", "=", source.id), ("key", "=", key)], limit=1)
        if known and known.create_date < self._psa_expiry_limit():
            known.unlink()
            return self.browse()
        return known

    @api.model
    def _psa_remember(self, source, key, request_hash, status, answer, lead):
        return self.create(
            {
                "source_id": source.id,
                "key": key,
                "request_hash": request_hash,
                "response_status": status,
                "response_body": json.dumps(answer),
                "lead_id": lead.id,
            }
        )

    def _psa_answer(self):
        self.ensure_one()
        return self.response_status, json.loads(self.response_body)

    @api.model
    def _psa_expiry_limit(self):
        return fields.Datetime.subtract(fields.Datetime.now(), hours=KEY_LIFETIME_HOURS)

    @api.model
    def _cron_forget_expired(self, batch_size=1000):
        """Delete the keys older than 24 hours, in chunks. Idempotent: a rerun deletes what is left."""
        expired = self.search([("create_date", "<", self._psa_expiry_limit())], order="id")
        done, total = 0, len(expired)
        for start in range(0, total, batch_size):
            chunk = expired[start : start + batch_size]
            chunk.unlink()
            done += len(chunk)
            self.env["ir.cron"]._notify_progress(done=done, remaining=total - done)
            if not getattr(threading.current_thread(), "testing", False) and not self.env.registry.in_test_mode():
                self.env.cr.commit()  # pylint: disable=invalid-commit  # cron chunks, never in tests
        return done
