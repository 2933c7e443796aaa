from odoo import api, models
from odoo.tools import SQL

from ..tools.billable import BillableItem
from ..tools.billing_keys import exactly_once_key


class PsaBillableMixin(models.AbstractModel):
    """A model whose records the billing run bills: a *billing source*.

    For a model to be billed by the billing run, it must inherit this mixin and override
    ``_psa_prepare_billable_items`` (what each record bills, as ``BillableItem`` values), and
    usually ``_psa_get_billable_domain`` (which records a run bills). The run does the rest:
    preview, confirm, batches, savepoints, exactly-once keys, invoice grouping, skip rules (customer
    on hold, purchase orders, invoices of 0.00), posting and sending. The contract:

    * **which records**: ``_psa_get_billable_domain(run)``; ``_psa_collect_billable(run, run_lines)``
      searches them (all for a preview, those of ``run_lines`` at the confirm);
    * **what they bill**: ``_psa_prepare_billable_items(run)``, one ``BillableItem`` per invoice
      line, with its explanation (on the run line and, as ``psa_billing_explanation``, on the invoice
      line) and its ``invoice_line_vals`` / ``invoice_vals`` (``_psa_source_invoice_vals``);
    * **exactly once**: each item carries its keys (``_psa_billing_key``: source model, record,
      period); a run bills a key once, a second run or a rerun after a crash finds it taken;
    * **cancel, full reversal**: cancelling the invoice deletes its keys, a credit note reversing it
      in full frees them: the next run bills the record again (its domain must still find it), and
      ``_psa_billing_given_back`` lets the source react (default: nothing to do); when that credit
      note goes back to draft, the invoice bills the record again (its keys hold again) and
      ``_psa_billing_taken_back`` lets the source react. The run finds the records of an invoice by
      its keys: a source needs no ``account.move`` override of its own for either.
    """

    _name = "psa.billable.mixin"
    _description = "Billing Source (billed by the billing run)"
    # the order in which the run collects its sources (lines of an invoice follow it)
    _psa_billing_sequence = 100
    # the order of a source's records in the run (its lines on an invoice follow it)
    _psa_billable_order = "id"

    # ------------------------------------------------------------------------------------------
    # Hooks a source overrides
    # ------------------------------------------------------------------------------------------
    @api.model
    def _psa_get_billable_domain(self, run):
        """Hook for extensions: the records of this model ``run`` bills.

        For a source to be billed, it must override this method (default: the records of the run's
        companies, and of its customers when it names some, not billed yet; the model then needs
        ``company_id`` and ``partner_id`` fields).

        :param run: the ``psa.billing.run``
        :return: a domain on this model
        """
        return [
            ("company_id", "in", run.company_ids.ids),
            ("id", "not in", self._psa_billed_subquery(self._psa_billing_period(run))),
            *run._psa_customer_domain("partner_id.commercial_partner_id"),
        ]

    def _psa_prepare_billable_items(self, run):
        """Hook for extensions: what the records in ``self`` bill on ``run``.

        For a source to be billed, it must override this method.

        :param run: the ``psa.billing.run``
        :return: a list of ``BillableItem``, one per invoice line (or skipped thing, with the reason)
        """
        raise NotImplementedError(f"{self._name} must say what it bills (_psa_prepare_billable_items)")

    @api.model
    def _psa_billing_period(self, run):
        """Hook for extensions: the period part of the exactly-once keys of this source on ``run``.

        Default ``"once"``: each record is billed once (until its invoice is cancelled or reversed in
        full). A recurring source returns what identifies the billed slice (a date, a watermark).
        """
        return "once"

    def _psa_billing_given_back(self, moves):
        """Hook for extensions: the invoices ``moves`` that billed the records in ``self`` were
        cancelled or reversed in full: their keys are free and the next run bills the records again.

        For a source to react (a state of its own, a message), it must override this method.
        Default: nothing more to do.

        :param moves: the cancelled or reversed ``account.move`` invoices
        """

    def _psa_billing_taken_back(self, moves):
        """Hook for extensions: the credit note that reversed the invoices ``moves`` in full went back
        to draft: they bill the records in ``self`` again (their keys hold again by themselves), the
        counterpart of ``_psa_billing_given_back``. Only the records no run billed again meanwhile are
        told (their keys still point at ``moves``).

        For a source to react, it must override this method. Default: nothing more to do.

        :param moves: the ``account.move`` invoices billing the records again
        """

    # ------------------------------------------------------------------------------------------
    # What the run calls
    # ------------------------------------------------------------------------------------------
    @api.model
    def _psa_collect_billable(self, run, run_lines=None):
        """The ``BillableItem`` values of this source for ``run``: everything billable for a
        preview (``run_lines`` is ``None``), the records of ``run_lines`` only for the confirm."""
        domain = self._psa_get_billable_domain(run)
        if run_lines is not None:
            ids = run_lines.filtered(lambda line: line.source_model == self._name).mapped("source_res_id")
            if not ids:
                return []
            domain = [*domain, ("id", "in", ids)]
        # the run bills what its clerk may invoice; the source's records may be out of their reach
        # (an RMM event, another company's time): read only, the domain scopes them to the run
        records = self.sudo().search(domain, order=self._psa_billable_order)
        return records._psa_prepare_billable_items(run) if records else []

    @api.model
    def _psa_complete_billable(self, run, items):
        """Hook for extensions: items that depend on everything else the run bills (down payments
        deducted on the invoice they go with); called once all the sources are collected."""
        return []

    # ------------------------------------------------------------------------------------------
    # Helpers for sources
    # ------------------------------------------------------------------------------------------
    def _psa_billing_key(self, period):
        """The exactly-once key of this record in ``period``."""
        self.ensure_one()
        return exactly_once_key(self._name, self.id, period)

    @api.model
    def _psa_billed_subquery(self, period):
        """The ids of this model's records whose key of ``period`` is taken, as a subquery: read in
        the key's columns (a key of an invoice reversed in full is free, see ``psa.billing.key``)."""
        keys = self.env["psa.billing.key"]
        keys.flush_model(["source_model", "source_res_id", "period", "move_id"])
        self.env["account.move"].flush_model(["payment_state"])
        return SQL(
            """(SELECT key.source_res_id
                  FROM psa_billing_key key LEFT JOIN account_move move ON move.id = key.move_id
                 WHERE key.source_model = %s AND key.period = %s AND move.payment_state IS DISTINCT FROM %s)""",
            self._name,
            str(period),
            keys.FREE_PAYMENT_STATE,
        )

    def _psa_prepare_source_item(self, run, partner, currency, name, quantity, price_unit, explanation, **values):
        """A ``BillableItem`` of one record of a source without an order, on its customer's invoice
        (``_psa_source_invoice_vals``), keyed once per ``_psa_billing_period``; ``values`` completes
        or overrides it (``invoice_line_vals``, ``source_type``...)."""
        self.ensure_one()
        partner = partner.commercial_partner_id
        company = self.env.company if "company_id" not in self._fields else self.company_id
        line_vals = {
            "name": name,
            "quantity": quantity,
            "price_unit": price_unit,
            "psa_billing_explanation": explanation,
            **values.pop("invoice_line_vals", {}),
        }
        origin = self.env._("%(what)s up to %(date)s", what=self._description, date=run.period_end)
        item = {
            "company_id": company.id,
            "partner_id": partner.id,
            "name": name,
            "currency_id": currency.id,
            "quantity": quantity,
            "price_unit": price_unit,
            "amount": currency.round(quantity * price_unit),
            "explanation": explanation,
            "source_model": self._name,
            "source_res_id": self.id,
            "source_name": self.display_name,
            "group_key": run._psa_generic_group_key(partner, company, currency),
            "keys": [self._psa_billing_key(self._psa_billing_period(run))],
            "invoice_line_vals": line_vals,
            "invoice_vals": run._psa_generic_invoice_vals(partner, company, currency, origin),
        }
        return BillableItem(**{**item, **values})
