import psycopg2.errors

from odoo import api, fields, models
from odoo.exceptions import UserError


class PsaBillingKey(models.Model):
    """What a billing run billed, keyed by (source, period), so nothing is ever billed twice.

    A key is inserted in the same transaction as the invoice that bills it: a rerun, a second run
    at the same time or a rerun after a crash finds the key (or waits on it) and bills nothing.
    Cancelling or deleting the invoice frees its keys, so the source can be billed again. A credit
    note that reverses the invoice in full (its ``payment_state`` "reversed") frees them too, but they
    stay, pointing at the reversed invoice, until a run bills the source again and takes them over:
    if the credit note goes back to draft, the invoice bills its sources again and the keys hold.
    """

    # a key of an invoice in this payment state is free (``_psa_existing``, ``_psa_insert_query``)
    FREE_PAYMENT_STATE = "reversed"

    _name = "psa.billing.key"
    _description = "Billing Run Key (exactly once)"
    _order = "id desc"

    name = fields.Char(required=True, readonly=True, help="source model:record:period (unique index)")
    source_model = fields.Char(readonly=True, index=True, help="The model of the billed source.")
    source_res_id = fields.Many2oneReference(
        string="Source Record", model_field="source_model", readonly=True, index=True
    )
    period = fields.Char(readonly=True, help="The billed slice of the source (date, quantity watermark, 'time').")
    run_id = fields.Many2one("psa.billing.run", string="Billing Run", readonly=True, ondelete="set null")
    move_id = fields.Many2one("account.move", string="Invoice", readonly=True, index=True, ondelete="cascade")
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)

    _sql_constraints = [
        ("name_uniq", "unique(name)", "This source was already billed for this period."),
    ]

    @api.model
    def _psa_existing(self, keys):
        """The subset of ``keys`` (``BillingKey``) already taken, with the invoice that took them."""
        if not keys:
            return {}
        by_name = {key.name: key for key in keys}
        names = list(by_name)
        self.flush_model()
        self.env["account.move"].flush_model(["payment_state"])
        self.env.cr.execute(
            "SELECT k.name, COALESCE(NULLIF(m.name, '/'), 'draft invoice #' || m.id::text) "
            "FROM psa_billing_key k LEFT JOIN account_move m ON m.id = k.move_id "
            "WHERE k.name = ANY(%s) AND m.payment_state IS DISTINCT FROM %s",
            [list(names), self.FREE_PAYMENT_STATE],
        )
        return {by_name[name]: invoice for name, invoice in self.env.cr.fetchall()}

    @api.model
    def _psa_insert(self, keys_by_move, run, company):
        """Insert the keys of freshly created invoices in one statement.

        :param keys_by_move: ``{move_id: [BillingKey, ...]}``
        :return: the number of keys that could NOT be inserted (taken by another run)
        """
        keys, move_ids = [], []
        for move_id, move_keys in keys_by_move.items():
            keys.extend(move_keys)
            move_ids.extend([move_id] * len(move_keys))
        if not keys:
            return 0
        self.flush_model()
        self.env["account.move"].flush_model(["payment_state"])
        try:
            self._psa_insert_query(keys, move_ids, run, company)
        except psycopg2.errors.SerializationFailure as exc:
            # another run inserted one of these keys in a transaction committed after ours began
            raise UserError(
                self.env._("Billed by another run at the same time: this billing was undone, retry it.")
            ) from exc
        inserted = len(self.env.cr.fetchall())
        self.invalidate_model()
        return len(keys) - inserted

    def _psa_insert_query(self, keys, move_ids, run, company):
        self.env.cr.execute(
            """
            INSERT INTO psa_billing_key (name, source_model, source_res_id, period, move_id, run_id, company_id,
                                         create_uid, write_uid, create_date, write_date)
            SELECT key.name, key.source_model, key.source_res_id, key.period, key.move_id, %(run)s, %(company)s,
                   %(uid)s, %(uid)s, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
              FROM unnest(%(names)s::varchar[], %(models)s::varchar[], %(res_ids)s::int[], %(periods)s::varchar[],
                          %(moves)s::int[]) AS key(name, source_model, source_res_id, period, move_id)
            ON CONFLICT (name) DO UPDATE
               SET move_id = EXCLUDED.move_id, run_id = EXCLUDED.run_id, company_id = EXCLUDED.company_id,
                   write_uid = EXCLUDED.write_uid, write_date = EXCLUDED.write_date
             WHERE EXISTS (SELECT 1 FROM account_move m
                            WHERE m.id = psa_billing_key.move_id AND m.payment_state = %(free)s)
            RETURNING id
            """,
            {
                "free": self.FREE_PAYMENT_STATE,
                "run": run.id if run else None,
                "company": company.id,
                "uid": self.env.uid,
                "names": [key.name for key in keys],
                "models": [key.source_model for key in keys],
                "res_ids": [key.source_res_id for key in keys],
                "periods": [key.period for key in keys],
                "moves": move_ids,
            },
            log_exceptions=False,
        )
