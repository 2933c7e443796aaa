from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from odoo.addons.psa_orders.tools import locks


class PsaPaymentMandate(models.Model):
    _name = "psa.payment.mandate"
    _description = "Auto-pay mandate"
    _inherit = ["mail.thread"]
    _order = "partner_id, id desc"
    _check_company_auto = True

    name = fields.Char(compute="_compute_name", store=True)
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company, index=True)
    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        index=True,
        tracking=True,
        domain="[('is_company', '=', True)]",
        help="The customer whose invoices are charged (the commercial entity).",
    )
    token_id = fields.Many2one(
        "payment.token",
        string="Saved payment method",
        required=True,
        tracking=True,
        check_company=True,
        domain="[('partner_id', 'child_of', partner_id)]",
    )
    provider_id = fields.Many2one(related="token_id.provider_id", store=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    trigger = fields.Selection(
        [("due_date", "On the due date"), ("posting", "At posting")],
        required=True,
        default="due_date",
        tracking=True,
    )
    max_amount = fields.Monetary(
        string="Maximum per invoice",
        currency_field="currency_id",
        tracking=True,
        help="Invoices with more to pay are not charged automatically. Zero: no maximum.",
    )
    hold_days = fields.Integer(
        string="Hold (days after posting)",
        tracking=True,
        help="Invoices are not charged before this many days after their date, so mistakes can be corrected.",
    )
    state = fields.Selection(
        [("active", "Active"), ("suspended", "Suspended"), ("revoked", "Revoked")],
        required=True,
        default="active",
        index=True,
        tracking=True,
    )
    reason = fields.Char(tracking=True, help="Why the mandate was last suspended, revoked or reactivated.")
    new_card_needed = fields.Boolean(
        readonly=True,
        copy=False,
        help="Suspended because the card can no longer be charged (expired, lost, stolen): the next card the "
        "customer saves replaces it and reactivates the mandate.",
    )
    terms_accepted = fields.Text(
        readonly=True, copy=False, help="The mandate terms as the customer accepted them in the portal."
    )
    terms_accepted_on = fields.Datetime(readonly=True, copy=False)
    terms_accepted_by = fields.Many2one("res.users", readonly=True, copy=False)
    attempt_ids = fields.One2many("psa.payment.attempt", "mandate_id", string="Charge attempts")

    _sql_constraints = [
        ("max_amount_positive", "CHECK(max_amount >= 0)", "The maximum per invoice cannot be negative."),
        ("hold_days_positive", "CHECK(hold_days >= 0)", "The hold cannot be negative."),
    ]

    @api.depends("partner_id.display_name", "token_id.display_name")
    def _compute_name(self):
        for mandate in self:
            mandate.name = self.env._(
                "Auto-pay %(customer)s with %(method)s",
                customer=mandate.partner_id.display_name or "",
                method=mandate.token_id.display_name or "",
            )

    @api.constrains("state", "token_id")
    def _check_provider_ready(self):
        """Each provider states what auto-pay needs from it (Stripe: a webhook secret, rule "verified webhooks")."""
        for mandate in self.filtered(lambda m: m.state == "active"):
            refusal = mandate.token_id.provider_id.sudo()._psa_autopay_refusal()
            if refusal:
                raise ValidationError(refusal)

    @api.constrains("partner_id", "token_id")
    def _check_token_partner(self):
        for mandate in self:
            if mandate.token_id.partner_id.commercial_partner_id != mandate.partner_id.commercial_partner_id:
                raise ValidationError(
                    self.env._(
                        "The saved payment method %(method)s does not belong to %(customer)s.",
                        method=mandate.token_id.display_name,
                        customer=mandate.partner_id.display_name,
                    )
                )

    @api.constrains("state", "partner_id", "company_id")
    def _check_one_active_per_customer(self):
        active = self.filtered(lambda m: m.state == "active")
        if not active:
            return
        groups = self._read_group(
            [
                ("state", "=", "active"),
                ("partner_id", "in", active.partner_id.ids),
                ("company_id", "in", active.company_id.ids),
            ],
            ["partner_id", "company_id"],
            ["__count"],
        )
        for partner, _company, count in groups:
            if count > 1:
                raise ValidationError(
                    self.env._(
                        "%(customer)s already has an active auto-pay mandate (rule: one active mandate per "
                        "customer and company).",
                        customer=partner.display_name,
                    )
                )

    def action_activate(self):
        self._psa_lock()
        refused = self.filtered(lambda m: m.state == "revoked")
        if refused:
            raise UserError(
                self.env._(
                    "A revoked mandate cannot be reactivated: create a new one (%(mandates)s).",
                    mandates=", ".join(refused.mapped("name")),
                )
            )
        self.filtered(lambda m: m.state == "suspended").write(
            {
                "state": "active",
                "new_card_needed": False,
                "reason": self.env._("Reactivated by %(user)s.", user=self.env.user.name),
            }
        )
        return True

    def action_suspend(self, reason=None):
        self._psa_lock()
        self.filtered(lambda m: m.state == "active").write(
            {"state": "suspended", "reason": reason or self.env._("Suspended by %(user)s.", user=self.env.user.name)}
        )
        return True

    def action_revoke(self, reason=None):
        self._psa_lock()
        self.filtered(lambda m: m.state != "revoked").write(
            {
                "state": "revoked",
                "new_card_needed": False,
                "reason": reason or self.env._("Revoked by %(user)s.", user=self.env.user.name),
            }
        )
        return True

    def _psa_lock(self):
        """Lock the mandates' rows before a state change or a charge: a revocation and a charge at the same
        moment are put one after the other (the charge that came first is kept and the mandate revoked after
        it; a revocation that came first refuses the charge), never a charge on a revoked mandate."""
        locks.lock_rows(self.env.cr, "psa_payment_mandate", self.ids)
        self.invalidate_recordset(["state"])

    # ------------------------------------------------------------------
    # API for integrators
    # ------------------------------------------------------------------

    @api.model
    def register_stripe_payment_method(
        self, partner_id, stripe_customer_id, stripe_payment_method_id, create_mandate=True, **mandate_values
    ):
        """For integrators (XML-RPC / JSON-RPC): save a customer's Stripe card for auto-pay.

        ``stripe_customer_id`` (``cus_...``) and ``stripe_payment_method_id`` (``pm_...``) are checked with the
        company's Stripe provider: both must exist and the payment method must be attached to that customer.
        Creates (or finds, when called again) the ``payment.token`` Odoo charges: ``provider_ref`` = the Stripe
        customer, ``stripe_payment_method`` = the payment method, ``payment_details`` = the card's last four
        digits. With ``create_mandate`` (default), the customer's auto-pay mandate charges that token: an open
        mandate of the customer is switched to it, else one is created with ``mandate_values`` (``trigger``,
        ``max_amount``, ``hold_days``).

        :return: ``{"token_id", "mandate_id" (False without mandate), "payment_details", "created_token"}``
        """
        self.check_access("create")
        partner = self.env["res.partner"].browse(partner_id).exists()
        if not partner:
            raise UserError(self.env._("No customer with id %(id)s.", id=partner_id))
        partner.check_access("read")
        commercial = partner.commercial_partner_id
        provider = self._psa_stripe_provider_for_registration()
        method_data = self._psa_stripe_check_payment_method(provider, stripe_customer_id, stripe_payment_method_id)
        # sudo: only system administrators may create payment tokens; this one is made of a Stripe customer and
        # payment method the provider has just confirmed belong together, for a customer the caller can read,
        # by a user allowed to set up auto-pay mandates (checked above).
        tokens = self.env["payment.token"].sudo()
        token = tokens.search(
            [
                ("provider_id", "=", provider.id),
                ("provider_ref", "=", stripe_customer_id),
                ("stripe_payment_method", "=", stripe_payment_method_id),
                ("partner_id", "child_of", commercial.id),
            ],
            limit=1,
        )
        created_token = not token
        if not token:
            card = method_data.get("card") or {}
            payment_method = self.env["payment.method"]._get_from_code(method_data.get("type") or "card")
            token = tokens.create(
                {
                    "provider_id": provider.id,
                    "payment_method_id": payment_method.id or self.env.ref("payment.payment_method_card").id,
                    "payment_details": card.get("last4") or stripe_payment_method_id[-4:],
                    "partner_id": commercial.id,
                    "provider_ref": stripe_customer_id,
                    "stripe_payment_method": stripe_payment_method_id,
                }
            )
        mandate = self.browse()
        if create_mandate:
            mandate = self.search(
                [
                    ("partner_id", "=", commercial.id),
                    ("company_id", "=", self.env.company.id),
                    ("state", "in", ("active", "suspended")),
                ],
                order="state, id desc",
                limit=1,
            )
            if mandate and mandate_values:
                # also when saving the card already moved a suspended mandate onto it (portal card replacement)
                mandate.write(mandate_values)
            if mandate and mandate.token_id != token:
                mandate.write({"token_id": token.id})
                mandate.message_post(
                    body=self.env._(
                        "Saved payment method switched to %(method)s (registered by %(user)s).",
                        method=token.display_name,
                        user=self.env.user.name,
                    )
                )
            elif not mandate:
                mandate = self.create({"partner_id": commercial.id, "token_id": token.id, **mandate_values})
        return {
            "token_id": token.id,
            "mandate_id": mandate.id or False,
            "payment_details": token.payment_details,
            "created_token": created_token,
        }

    @api.model
    def _psa_stripe_provider_for_registration(self):
        """The current company's enabled Stripe provider (test or live)."""
        # sudo: providers are configuration records only administrators read; only the id and keys are used.
        provider = (
            self.env["payment.provider"]
            .sudo()
            .search(
                [
                    ("code", "=", "stripe"),
                    ("state", "in", ("enabled", "test")),
                    ("company_id", "=", self.env.company.id),
                ],
                limit=1,
            )
        )
        if not provider:
            raise UserError(self.env._("No Stripe provider is enabled for %(company)s.", company=self.env.company.name))
        return provider

    @api.model
    def _psa_stripe_check_payment_method(self, provider, stripe_customer_id, stripe_payment_method_id):
        """Ask Stripe whether the customer and the payment method exist and belong together; return the method."""
        if not (stripe_customer_id or "").startswith("cus_") or not (stripe_payment_method_id or "").startswith("pm_"):
            raise UserError(
                self.env._(
                    "Expected a Stripe customer id (cus_...) and a payment method id (pm_...), got %(customer)s "
                    "and %(method)s.",
                    customer=stripe_customer_id,
                    method=stripe_payment_method_id,
                )
            )
        try:
            customer = provider._stripe_make_request(f"customers/{stripe_customer_id}", method="GET")
            method = provider._stripe_make_request(f"payment_methods/{stripe_payment_method_id}", method="GET")
        except ValidationError as error:
            raise UserError(
                self.env._("Stripe refused the saved payment method: %(reason)s", reason=error.args[0])
            ) from error
        if customer.get("deleted") or customer.get("id") != stripe_customer_id:
            raise UserError(self.env._("Stripe has no customer %(customer)s.", customer=stripe_customer_id))
        attached_to = method.get("customer")
        if isinstance(attached_to, dict):
            attached_to = attached_to.get("id")
        if attached_to != stripe_customer_id:
            raise UserError(
                self.env._(
                    "The payment method %(method)s is not attached to the Stripe customer %(customer)s "
                    "(attached to: %(other)s).",
                    method=stripe_payment_method_id,
                    customer=stripe_customer_id,
                    other=attached_to or self.env._("nobody"),
                )
            )
        return method

    @api.model
    def _get_active_mandates_domain(self, company):
        """Hook for extensions: the mandates whose customers' invoices the cron charges."""
        return [("state", "=", "active"), ("company_id", "=", company.id), ("token_id.active", "=", True)]

    def _psa_move_to_token(self, token):
        """Move the suspended mandate to the customer's new card and reactivate it, saying why in the chatter."""
        self.ensure_one()
        self._psa_lock()
        if self.state != "suspended" or not self.new_card_needed:
            return False
        old_card = self.token_id.display_name
        reason = self.env._(
            "Reactivated automatically: the customer saved a new card (%(new)s), which replaces %(old)s.",
            new=token.display_name,
            old=old_card,
        )
        self.write({"token_id": token.id, "state": "active", "new_card_needed": False, "reason": reason})
        self.message_post(body=reason)
        return True

    @api.model
    def _psa_enrol_from_portal(self, token, terms):
        """Create the active mandate a customer asked for in the portal, with the terms they accepted.

        The company's defaults (maximum per invoice, hold) apply; the caller checked the token is the user's.
        """
        company = token.provider_id.company_id
        mandate = self.with_company(company).create(
            {
                "partner_id": token.partner_id.commercial_partner_id.id,
                "token_id": token.id,
                "company_id": company.id,
                "trigger": "due_date",
                "max_amount": company.psa_autopay_max_amount,
                "hold_days": company.psa_autopay_hold_days,
                "terms_accepted": terms,
                "terms_accepted_on": fields.Datetime.now(),
                "terms_accepted_by": self.env.user.id,
                "reason": self.env._(
                    "Enrolled by %(user)s from the customer portal; mandate terms accepted.", user=self.env.user.name
                ),
            }
        )
        mandate.message_post(
            body=self.env._(
                "%(user)s enrolled in auto-pay from the portal with %(card)s and accepted these terms: %(terms)s",
                user=self.env.user.name,
                card=token.display_name,
                terms=terms,
            )
        )
        return mandate

    @api.ondelete(at_uninstall=False)
    def _unlink_except_with_attempts(self):
        if self.attempt_ids:
            raise UserError(
                self.env._("A mandate that was used to charge invoices is kept for the record: revoke it instead.")
            )
