import logging

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import UserError

_logger = logging.getLogger(__name__)

# queue_job channel of the delivery processing (capacity in the server configuration, see the README "Scaling")
RMM_CHANNEL = "root.psa.rmm"
# first key of the transaction-level advisory lock that serializes the processing of one integration's deliveries
# (not the endpoint's receiving lock: a delivery being processed never holds up the RMM posting the next one)
PROCESSING_LOCK_NAMESPACE = 0x50534150  # "PSAP"
DELIVERY_STATES = [
    ("queued", "Queued"),
    ("done", "Processed"),
    ("parked", "Parked for review"),
    ("failed", "Failed"),
]


class PsaRmmDelivery(models.Model):
    """One accepted signed request (its signature is the replay guard) and the processing of its events,
    which runs as a queue job on ``root.psa.rmm``."""

    _name = "psa.rmm.delivery"
    _description = "RMM Delivery"
    _order = "id desc"

    integration_id = fields.Many2one("psa.rmm.integration", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="integration_id.company_id", store=True, index=True)
    signature = fields.Char(required=True)
    event_count = fields.Integer()
    duplicate_count = fields.Integer()
    size = fields.Integer(string="Body Size (bytes)")
    state = fields.Selection(DELIVERY_STATES, default="queued", required=True, index=True, readonly=True)
    reason = fields.Char(readonly=True, help="What the processing did, or why it failed.")
    event_ids = fields.One2many("psa.rmm.event", "delivery_id", string="Events", readonly=True)
    parked_count = fields.Integer(compute="_compute_parked_count", string="Parked Events")

    _sql_constraints = [
        ("signature_unique", "UNIQUE(integration_id, signature)", "This signed request was already received."),
    ]

    @api.depends("event_ids.state")
    def _compute_parked_count(self):
        for delivery in self:
            delivery.parked_count = len(delivery.event_ids.filtered(lambda e: e.state == "parked"))

    def _psa_job_identity(self):
        self.ensure_one()
        return f"psa-rmm-delivery-{self.id}"

    def _psa_enqueue_processing(self):
        """One queue job per delivery; a delivery whose job is still waiting is not enqueued again."""
        for delivery in self:
            delivery.with_delay(
                channel=RMM_CHANNEL,
                identity_key=delivery._psa_job_identity(),
                description=self.env._(
                    "RMM: process delivery %(delivery)s of %(integration)s (%(count)s events)",
                    delivery=delivery.id,
                    integration=delivery.integration_id.name,
                    count=delivery.event_count,
                ),
            )._psa_job_process()

    def _psa_job_process(self):
        """Job: process the delivery's events not processed yet (received or parked), then record the outcome.

        The deliveries of one integration are processed one at a time, in a transaction started once that
        lock is held, so a delivery sees what the one before it committed (the device it registered, the
        ticket it opened). Run twice, it changes nothing more: processed events are final.
        """
        self.ensure_one()
        # nothing of this transaction may be left unwritten for the processing's own transaction to overwrite
        self.env.flush_all()
        self.env.cr.execute("SELECT pg_advisory_xact_lock(%s, %s)", (PROCESSING_LOCK_NAMESPACE, self.integration_id.id))
        with self.env.registry.cursor() as cr:
            # act as OdooBot: notes and tickets are authored by the system, as when the endpoint processed them
            env = api.Environment(cr, SUPERUSER_ID, {})
            delivery = env["psa.rmm.delivery"].browse(self.id).exists()
            if not delivery:
                return "delivery purged: nothing to do"
            delivery = delivery.with_company(delivery.company_id)
            events = delivery.event_ids.filtered(lambda e: e.state in ("received", "parked"))
            events._psa_process()
            delivery._psa_record_outcome()
            return f"{len(events)} events processed: {delivery.state}"

    def _psa_record_outcome(self):
        for delivery in self:
            parked = delivery.event_ids.filtered(lambda e: e.state == "parked")
            if parked:
                values = {
                    "state": "parked",
                    "reason": self.env._(
                        "%(count)s events parked: %(reason)s", count=len(parked), reason=parked[0].reason or ""
                    ),
                }
            else:
                values = {
                    "state": "done",
                    "reason": self.env._("%(count)s events processed.", count=len(delivery.event_ids)),
                }
            delivery.write(values)

    def _psa_on_processing_failed(self, exc_name=None, exc_message=None, **_kwargs):
        """queue_job calls this when the processing job failed for good (after its last retry)."""
        self.write(
            {
                "state": "failed",
                "reason": self.env._(
                    "Processing failed: %(error)s (retry it from the delivery once the cause is fixed).",
                    error=exc_message or exc_name or "",
                ),
            }
        )

    def action_retry(self):
        """Process a parked or failed delivery again (e.g. once its site is mapped to a customer)."""
        if not self.env.user.has_group("helpdesk_mgmt.group_helpdesk_manager"):
            raise UserError(self.env._("Only helpdesk managers can retry RMM deliveries."))
        retryable = self.filtered(lambda d: d.state in ("parked", "failed"))
        if retryable != self:
            raise UserError(self.env._("Only parked or failed deliveries can be retried."))
        # sudo: deliveries are read-only to people; a helpdesk manager may have them processed again
        retryable.sudo().write(
            {"state": "queued", "reason": self.env._("Retry queued by %(user)s.", user=self.env.user.name)}
        )
        retryable.sudo()._psa_enqueue_processing()
        return True
