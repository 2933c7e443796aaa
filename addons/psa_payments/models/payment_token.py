from odoo import api, models


class PaymentToken(models.Model):
    _inherit = "payment.token"

    @api.model_create_multi
    def create(self, vals_list):
        tokens = super().create(vals_list)
        tokens._psa_replace_unusable_cards()
        return tokens

    def _psa_get_replaceable_mandates_domain(self):
        """Hook for extensions: the mandates a newly saved card of these customers replaces the card of."""
        return [
            ("state", "=", "suspended"),
            ("new_card_needed", "=", True),
            ("partner_id", "in", self.partner_id.commercial_partner_id.ids),
        ]

    def _psa_replace_unusable_cards(self):
        """A card saved by a customer whose mandate is suspended for an unusable card takes its place.

        Only a card of the same provider and company (the mandate charges through that provider).
        """
        # sudo: tokens are saved by portal users and payment flows; only their own customers' mandates are read
        mandates = self.env["psa.payment.mandate"].sudo().search(self._psa_get_replaceable_mandates_domain())
        for mandate in mandates:
            token = self.filtered(
                lambda t, m=mandate: t.active
                and t.partner_id.commercial_partner_id == m.partner_id.commercial_partner_id
                and t.provider_id == m.provider_id
            )[-1:]
            if token:
                mandate._psa_move_to_token(token.sudo())
