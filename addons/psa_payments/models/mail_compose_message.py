from odoo import models


class MailComposeMessage(models.TransientModel):
    _inherit = "mail.compose.message"

    def action_send_mail(self):
        """The payment-link composer (``account.move.action_psa_send_payment_link``) sends once per
        ``PAYMENT_LINK_RESEND_DELAY`` seconds, and says to whom it sent (or when it already did)."""
        if not self.env.context.get("psa_payment_link") or self.model != "account.move":
            return super().action_send_mail()
        self.ensure_one()
        invoices = self.env["account.move"].browse(self._evaluate_res_ids())
        to_send, already = invoices._psa_payment_link_split()
        if to_send:
            self.res_ids = str(to_send.ids)
            self._action_send_mail(auto_commit=False)
            # the composer's own message is the note on the invoice; only the guard is recorded
            to_send._psa_payment_link_sent(note=False)
        action = invoices._psa_payment_link_notification(to_send, already)
        action["params"]["next"] = {"type": "ir.actions.act_window_close"}
        return action
