from contextlib import contextmanager

from odoo import fields, models

# ``cr.precommit.data`` key of the billing run's numbering memo (``AccountMove._psa_numbering_memo``)
NUMBERING_MEMO = "psa_timesheet_billing.numbering_memo"


class AccountMove(models.Model):
    _inherit = "account.move"

    psa_receipt_attachment_ids = fields.Many2many(
        "ir.attachment",
        "psa_account_move_receipt_rel",
        "move_id",
        "attachment_id",
        string="Expense Receipts",
        copy=False,
        help="Receipts of the re-invoiced expenses billed on this invoice; sent with it.",
    )

    def write(self, vals):
        if self._sequence_field in vals and self.env.context.get("clear_sequence_mixin_cache", True):
            # a number written by anything but the numbering itself: what the memo knows may be wrong
            self.env.cr.precommit.data.get(NUMBERING_MEMO, {}).clear()
        if self.env.context.get("psa_skip_unchanged_checked") and vals.keys() == {"checked"}:
            # the billing run ticked "Checked" for its whole batch before posting: posting's own
            # invoice-by-invoice tick then changes nothing (see psa.billing.run._psa_check_before_post)
            changing = self.filtered(lambda move: move.checked != vals["checked"])
            return super(AccountMove, changing).write(vals) if changing else True
        return super().write(vals)

    @contextmanager
    def _sync_dynamic_lines(self, container):
        """The billing run posts invoices whose lines it has just created synchronised: writing them while
        they are posted (state, number, "Checked") needs no second synchronisation (see
        ``psa.billing.run._psa_posting_context``); every other move is synchronised as usual."""
        synced = self.env.context.get("psa_synced_move_ids")
        records = container["records"]
        if synced and records and records._name == "account.move" and set(records.ids) <= synced:
            yield
            return
        with super()._sync_dynamic_lines(container):
            yield

    def _post(self, soft=True):
        with self._psa_numbering_memo():
            posted = super()._post(soft=soft)
        invoices = posted.filtered(lambda move: move.move_type == "out_invoice")
        invoices.sudo().timesheet_ids._psa_set_invoiced(True)
        refunds = posted.filtered(lambda move: move.move_type == "out_refund" and move.reversed_entry_id)
        refunds.reversed_entry_id._psa_give_back_to_billing(refunds)
        return posted

    @contextmanager
    def _psa_numbering_memo(self):
        """While the billing run posts its batch (``psa_synced_move_ids``), number its invoices from a memo.

        Odoo numbers the invoices of one ``_post`` one by one, and for each it asks the database for the
        journal's last number (``sequence.mixin._get_last_sequence``): two searches to find the numbering's
        period, one query, and a flush of the previous invoice's number first (measured: 4.9 ms of the
        run's ~50 ms per invoice, all while the journal's numbering is held). The
        answer for the second invoice of the same journal, date and type is the number just given to
        the first, so the memo gives it (``_get_last_sequence``), and Odoo's own transactional cache
        (``_locked_increment``) increments it as usual: the same numbers, in the same order, from one
        lookup per journal and date instead of one per invoice; the numbers are written in one flush.

        Only the run's own fresh invoices use it, during the one posting: a number written any other way
        meanwhile empties it (``write``), and it ends with the posting.
        """
        data = self.env.cr.precommit.data
        if not self.env.context.get("psa_synced_move_ids") or NUMBERING_MEMO in data:
            yield
            return
        data[NUMBERING_MEMO] = {}
        try:
            yield
        finally:
            data.pop(NUMBERING_MEMO, None)

    def _psa_numbering_memo_slot(self):
        """``(memo, key)`` of this invoice, or ``(None, None)`` when the memo does not apply. The key says
        what decides which numbers its journal's numbering looks at (``_get_last_sequence_domain``: the
        journal, the period of the date, refunds or not, payments or not), a little finer."""
        memo = self.env.cr.precommit.data.get(NUMBERING_MEMO)
        synced = self.env.context.get("psa_synced_move_ids") or ()
        if memo is None or self.id not in synced or (self.name and self.name != "/"):
            return None, None
        is_payment = bool(self.origin_payment_id or self.env.context.get("is_payment"))
        return memo, (self.journal_id.id, self.date, self.move_type, is_payment)

    def _get_last_sequence(self, relaxed=False, with_prefix=None):
        if not relaxed and with_prefix is None:
            memo, key = self._psa_numbering_memo_slot()
            if memo and key in memo:
                return memo[key]
        return super()._get_last_sequence(relaxed=relaxed, with_prefix=with_prefix)

    def _set_next_sequence(self):
        memo, key = self._psa_numbering_memo_slot()
        result = super()._set_next_sequence()
        if memo is not None:
            memo[key] = self[self._sequence_field]
        return result

    def _psa_give_back_to_billing(self, refunds):
        """Hook: what the invoices in ``self`` billed is billable again once a credit note reversed
        them in full (Odoo's ``payment_state`` "reversed"), as Odoo's own invoicing does for their
        time: the time is approved again and the billing run's exactly-once keys count as free (see
        ``psa.billing.key``), so the next run bills the time, order-line quantities and milestones
        again. A partial credit note gives nothing back: the invoice still bills its sources, only
        for less.
        """
        reversed_invoices = self.filtered(
            lambda move: move.move_type == "out_invoice" and move.payment_state == "reversed"
        )
        if not reversed_invoices:
            return
        reversed_invoices.sudo().timesheet_ids._psa_set_invoiced(False)
        reversed_invoices._psa_sources_given_back()
        key_counts = dict(
            self.env["psa.billing.key"]
            .sudo()
            ._read_group([("move_id", "in", reversed_invoices.ids)], ["move_id"], ["__count"])
        )
        credit_notes = refunds.grouped("reversed_entry_id")
        for invoice in reversed_invoices:
            invoice.sudo().message_post(
                body=self.env._(
                    "Reversed in full by %(credit_notes)s: its %(count)s time entries and billed sources "
                    "(%(keys)s billing-run keys freed) are billable again by the next billing run.",
                    credit_notes=", ".join(credit_notes[invoice].mapped("name")),
                    count=len(invoice.sudo().timesheet_ids),
                    keys=key_counts.get(invoice, 0),
                )
            )

    def button_draft(self):
        reversed_invoices = self.filtered(lambda move: move.move_type == "out_refund").reversed_entry_id.filtered(
            lambda move: move.payment_state == "reversed"
        )
        res = super().button_draft()
        self._psa_release_invoiced_time()
        reversed_invoices.filtered(lambda move: move.payment_state != "reversed")._psa_take_back_from_billing()
        # Odoo's button answers None, which XML-RPC cannot carry (integrators reset invoices to re-bill them).
        return True if res is None else res

    def _psa_take_back_from_billing(self):
        """Hook: the invoices in ``self`` were reversed in full until their credit note went back to
        draft: they bill their sources again (what was not billed again meanwhile), the counterpart
        of ``_psa_give_back_to_billing``; their keys hold again by themselves."""
        self.sudo().timesheet_ids._psa_set_invoiced(True)
        self._psa_tell_sources("_psa_billing_taken_back")

    def button_cancel(self):
        """A cancelled invoice no longer bills its sources: its time is approved again and the
        exactly-once keys of the billing run are freed."""
        res = super().button_cancel()
        self._psa_release_invoiced_time()
        self._psa_sources_given_back()
        self.env["psa.billing.key"].sudo().search([("move_id", "in", self.ids)]).unlink()
        return True if res is None else res  # Odoo's answers None, which XML-RPC cannot carry

    def _psa_sources_given_back(self):
        """Tell the billing sources (``psa.billable.mixin``) these invoices billed that they are
        billable again (cancelled, reversed in full)."""
        self._psa_tell_sources("_psa_billing_given_back")

    def _psa_tell_sources(self, hook):
        """Call ``hook`` (a ``psa.billable.mixin`` method) on the records these invoices bill, found
        by their exactly-once keys' source columns, one call per source model."""
        # the keys are the run's bookkeeping, read to find the sources, whoever changes the invoice
        keys = self.env["psa.billing.key"].sudo().search([("move_id", "in", self.ids), ("source_model", "!=", False)])
        for model, model_keys in keys.grouped("source_model").items():
            if model in self.env and hasattr(self.env[model], hook):
                records = self.env[model].browse(sorted(set(model_keys.mapped("source_res_id"))))
                getattr(records, hook)(self)

    def _psa_release_invoiced_time(self):
        """Time of an invoice back in draft or cancelled is approved again, waiting to be billed."""
        self.filtered(lambda move: move.move_type == "out_invoice").sudo().timesheet_ids._psa_set_invoiced(False)
