import hashlib
import hmac
import secrets

from odoo import api, fields, models
from odoo.tools import email_normalize

KEY_PREFIX = "psa_"


def _hash_key(key):
    return hashlib.sha256(key.encode()).hexdigest()


class PsaLeadSource(models.Model):
    """An external website allowed to post leads to ``/psa/leads`` with its own API key."""

    _name = "psa.lead.source"
    _description = "Lead Source (external website)"
    _inherit = ["mail.thread"]
    _order = "name"

    name = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True, tracking=True)
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company, index=True)
    team_id = fields.Many2one(
        "crm.team", string="Sales Team", check_company=True, tracking=True, help="Team the new leads are assigned to."
    )
    key_index = fields.Char(
        string="Key Identifier",
        readonly=True,
        copy=False,
        index=True,
        help="Public start of the API key, to recognise it; the key itself is only stored hashed.",
    )
    key_hash = fields.Char(readonly=True, copy=False, groups="base.group_system")
    lead_count = fields.Integer(compute="_compute_lead_count")

    _sql_constraints = [("psa_lead_source_key_index_unique", "unique(key_index)", "API key identifiers are unique.")]

    def _compute_lead_count(self):
        counts = dict(
            self.env["crm.lead"]
            .with_context(active_test=False)
            ._read_group([("psa_lead_source_id", "in", self.ids)], ["psa_lead_source_id"], ["__count"])
        )
        for source in self:
            source.lead_count = counts.get(source, 0)

    def _psa_generate_key(self):
        """Give the source a new API key; return it in clear (shown once, never stored in clear)."""
        self.ensure_one()
        # Only who may edit the source may replace its key (the button is hidden from the others, the RPC not).
        self.check_access("write")
        index = secrets.token_hex(4)
        key = f"{KEY_PREFIX}{index}_{secrets.token_urlsafe(32)}"
        # sudo: key_hash is readable by system administrators only; write access was checked above.
        self.sudo().write({"key_index": index, "key_hash": _hash_key(key)})
        self.message_post(body=self.env._("A new API key was generated; the previous one no longer works."))
        return key

    def generate_api_key(self):
        """For integrators (XML-RPC / JSON-RPC): give the source a new API key and return it as data, once.

        The previous key stops working. Returns ``{"source_id", "key", "key_index", "endpoint"}``: ``key`` is
        what the website sends to ``endpoint`` as ``Authorization: Bearer <key>``; it is not stored in clear
        and cannot be read again (generate a new one if it is lost).
        """
        key = self._psa_generate_key()
        return {
            "source_id": self.id,
            "key": key,
            "key_index": self.key_index,
            "endpoint": "/psa/leads",
        }

    def action_generate_key(self):
        key = self._psa_generate_key()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("New API key for %(site)s", site=self.name),
                "message": self.env._("Copy it now, it will not be shown again: %(key)s", key=key),
                "sticky": True,
                "type": "warning",
            },
        }

    @api.model
    def _psa_authenticate(self, key):
        """The active source the API key belongs to, or an empty recordset."""
        if not key or not key.startswith(KEY_PREFIX) or key.count("_") < 2:
            return self.browse()
        index = key[len(KEY_PREFIX) :].split("_", 1)[0]
        source = self.sudo().search([("key_index", "=", index)], limit=1)
        if source and source.key_hash and hmac.compare_digest(source.key_hash, _hash_key(key)):
            return source
        return self.browse()

    def _psa_get_open_lead_domain(self, email):
        """Hook for extensions: the open lead a new post from ``email`` is merged into."""
        self.ensure_one()
        return [
            ("email_normalized", "=", email),
            ("company_id", "in", [self.company_id.id, False]),
            ("active", "=", True),
            ("stage_id.is_won", "=", False),
        ]

    def _psa_get_lead_lock_key(self, email):
        """Hook for extensions: the text the open-lead decision for ``email`` is serialized on.

        Must cover what ``_psa_get_open_lead_domain`` decides on: two posts that could merge into the same
        lead must take the same lock. By default the company and the normalised address.
        """
        self.ensure_one()
        return f"{self.company_id.id}:{email_normalize(email) or email.strip().lower()}"

    def _psa_answer_post(self, payload, idempotency_key=None, request_hash=None):
        """Answer a validated post: create the lead or merge it into the open one, and with an
        ``Idempotency-Key`` keep the answer so a retry gets it again and writes nothing.

        The caller serializes the posts of one key and of one lock key (see ``controllers/leads.py``).
        Return ``(status, answer, replayed)``: 201 created, 200 merged, 422 key reused with another body.
        """
        self.ensure_one()
        keys = self.env["psa.lead.idempotency.key"].sudo()  # the public endpoint's own bookkeeping
        if idempotency_key:
            known = keys._psa_find(self, idempotency_key)
            if known and known.request_hash != request_hash:
                return (
                    422,
                    {
                        "error": "idempotency_key_reused",
                        "message": "This Idempotency-Key was used with another request in the last 24 hours.",
                    },
                    False,
                )
            if known:
                status, answer = known._psa_answer()
                return status, answer, True
        lead, merged = self._psa_receive_lead(payload)
        status, answer = (200 if merged else 201), {"id": lead.id, "merged": merged}
        if idempotency_key:
            keys._psa_remember(self, idempotency_key, request_hash, status, answer, lead)
        return status, answer, False

    def _psa_prepare_lead_vals(self, payload):
        """Hook for extensions: values of the lead created from a validated payload."""
        self.ensure_one()
        return {
            "name": payload.get("subject") or self.env._("%(name)s via %(site)s", name=payload["name"], site=self.name),
            "contact_name": payload["name"],
            "email_from": payload["email"],
            "phone": payload.get("phone"),
            "partner_name": payload.get("company"),
            "description": payload.get("message"),
            "type": "lead",
            "team_id": self.team_id.id,
            "company_id": self.company_id.id,
            "psa_lead_source_id": self.id,
        }

    def _psa_receive_lead(self, payload):
        """Create the lead, or merge the post into the open lead of the same email. Return (lead, merged)."""
        self.ensure_one()
        leads = self.env["crm.lead"].sudo().with_company(self.company_id)
        lead = leads.search(self._psa_get_open_lead_domain(payload["email"]), order="id desc", limit=1)
        if lead:
            lead.message_post(
                body=self.env._(
                    "New request from %(name)s via %(site)s: %(subject)s\n%(message)s",
                    name=payload["name"],
                    site=self.name,
                    subject=payload.get("subject") or "-",
                    message=payload.get("message") or "",
                )
            )
            return lead, True
        lead = leads.create(self._psa_prepare_lead_vals(payload))
        lead.message_post(body=self.env._("Lead received from %(site)s.", site=self.name))
        return lead, False
