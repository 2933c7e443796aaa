from collections import defaultdict
from datetime import timedelta

from odoo import Command, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_amount, groupby

from odoo.addons.psa_orders.tools import po_rules

from ..tools.billing_keys import exactly_once_key, quantity_watermark, source_group_key

RUN_FREQUENCIES = [("monthly", "Monthly"), ("weekly", "Weekly")]


class PsaBillingRun(models.Model):
    """Where a billing run finds what to bill: period-end rules, purchase-order rules per invoice,
    sources added by other add-ons, periodic crons."""

    _inherit = "psa.billing.run"

    # ------------------------------------------------------------------------------------------
    # Crons: one run per company and period, monthly or weekly per company
    # ------------------------------------------------------------------------------------------
    @api.model
    def _cron_create_weekly_runs(self, batch_size=50):
        """Create (once per company and week) the run up to last Sunday and preview it, for the
        companies billing weekly."""
        today = fields.Date.context_today(self)
        self._psa_create_periodic_runs("weekly", today - timedelta(days=today.weekday() + 1))

    @api.model
    def _get_periodic_run_companies_domain(self, frequency):
        """Hook for extensions: the companies whose run the ``frequency`` cron creates."""
        return [("psa_billing_run_frequency", "=", frequency)]

    @api.model
    def _prepare_periodic_run_vals(self, company, frequency, period_end, mode):
        """Hook for extensions: the values of the run the ``frequency`` cron creates for ``company``.

        The run sends the invoices it posts when the company says so (*Send invoices of automatic
        runs*); posting follows the run's default.
        """
        return {
            "company_id": company.id,
            "company_ids": [Command.set(company.ids)],
            "period_end": period_end,
            "mode": mode,
            "send_invoices": company.psa_billing_run_send_invoices,
        }

    @api.model
    def _psa_create_periodic_runs(self, frequency, period_end):
        """Create and preview one run per company (billing at ``frequency``) up to ``period_end``.

        Idempotent: a company that already has a run for that period end gets no second one, so
        a rerun after a crash creates only the missing runs. Automatic runs are then invoiced by
        the worker cron.
        """
        mode = self.env["ir.config_parameter"].sudo().get_param("psa_timesheet_billing.monthly_run_mode", "preview")
        mode = mode if mode in ("preview", "automatic") else "preview"
        companies = self.env["res.company"].sudo().search(self._get_periodic_run_companies_domain(frequency))
        existing = self.sudo().search(
            [("period_end", "=", period_end), ("company_id", "in", companies.ids), ("partner_ids", "=", False)]
        )
        todo = companies - existing.company_id
        for done, company in enumerate(todo, start=1):
            run = (
                self.sudo()
                .with_company(company)
                .create(self._prepare_periodic_run_vals(company, frequency, period_end, mode))
            )
            run.action_preview()
            if run.mode == "automatic":
                run._psa_start()
            run.message_post(
                body=self.env._(
                    "Created by the %(frequency)s billing cron (%(mode)s), period up to %(date)s; invoices "
                    "%(sending)s (company setting).",
                    frequency=dict(RUN_FREQUENCIES)[frequency].lower(),
                    mode=run.mode,
                    date=period_end,
                    sending=self.env._("sent by email") if run.send_invoices else self.env._("not sent"),
                )
            )
            self.env["ir.cron"]._notify_progress(done=done, remaining=len(todo) - done)
            self._psa_commit()

    # ------------------------------------------------------------------------------------------
    # Milestones: only those reached by the period end
    # ------------------------------------------------------------------------------------------
    def _psa_split_milestones_at_period_end(self, milestones):
        """``(reached by the period end, reached after it)`` of reached milestones (lists)."""
        reached = [m for m in milestones if not m.reached_date or m.reached_date <= self.period_end]
        later = [m for m in milestones if m.reached_date and m.reached_date > self.period_end]
        return reached, later

    def _psa_milestone_quantity_due(self, sale_line, reached):
        """Quantity of a milestone order line billable up to the period end: the share of the
        milestones reached by then, less what is already invoiced (as Odoo computes delivery)."""
        delivered = sum(milestone.quantity_percentage for milestone in reached) * sale_line.product_uom_qty
        return min(max(delivered - sale_line.qty_invoiced, 0.0), sale_line.qty_to_invoice)

    def _psa_milestones_after_period_vals(self, sale_line, later):
        """A skip line: the milestones were reached after the period end, a later run bills them."""
        order = sale_line.order_id
        return {
            "kind": "skip",
            "state": "skipped",
            "source_type": "milestone",
            "company_id": sale_line.company_id.id,
            "partner_id": order.partner_id.commercial_partner_id.id,
            "order_id": order.id,
            "sale_line_id": sale_line.id,
            "name": sale_line.name,
            "currency_id": sale_line.currency_id.id,
            "skip_reason": self.env._(
                "milestone(s) %(milestones)s reached after the period end %(date)s: billed by a later run",
                milestones=", ".join(f"{milestone.name} ({milestone.reached_date})" for milestone in later),
                date=self.period_end,
            ),
        }

    # ------------------------------------------------------------------------------------------
    # Prepaid funds: time paid by a fund is not billed again, the overage is
    # ------------------------------------------------------------------------------------------
    @api.model
    def _psa_fund_covered_hours(self, timesheet_ids):
        """``{sale line id: (hours paid by prepaid funds, funds)}`` for the given time entries."""
        if not timesheet_ids:
            return {}
        rows = (
            self.env["psa.prepaid.drawdown"]
            .sudo()
            ._read_group(
                [("timesheet_id", "in", timesheet_ids), ("covered_hours", ">", 0)],
                ["so_line_id"],
                ["covered_hours:sum", "fund_id:recordset"],
            )
        )
        return {sale_line.id: (hours, funds) for sale_line, hours, funds in rows if sale_line}

    def _get_downpayments_to_deduct_domain(self, orders):
        """Hook for extensions: invoiced down payments (prepayments) of ``orders`` not deducted yet."""
        return [
            ("order_id", "in", orders.ids),
            ("is_downpayment", "=", True),
            ("display_type", "=", False),
            ("qty_to_invoice", "<", 0),
        ]

    def _psa_collect_downpayment_deductions(self, vals_list):
        """Deduct the invoiced down payments of an order on the run's invoice of that order, as
        Odoo's final invoice (``_create_invoices(final=True)``) does, when that invoice covers them;
        otherwise they wait for a larger invoice (said in the preview)."""
        bill = [vals for vals in vals_list if vals["kind"] == "bill" and vals.get("order_id")]
        if not bill:
            return []
        group_of_order = {}
        group_total = defaultdict(float)
        for vals in vals_list:
            if vals["kind"] == "bill":
                group_total[vals["group_key"]] += vals["amount"]
        for vals in bill:
            group_of_order.setdefault(vals["order_id"], vals["group_key"])
        orders = self.env["sale.order"].browse(list(group_of_order))
        downpayments = self.env["sale.order.line"].search(
            self._get_downpayments_to_deduct_domain(orders), order="order_id, id"
        )
        deductions = []
        for line in downpayments:
            group_key = group_of_order[line.order_id.id]
            vals = self._psa_sale_line_vals(line, line.qty_to_invoice, "downpayment")
            vals.pop("_order")
            invoices = line.invoice_lines.move_id.filtered(lambda move: move.state != "cancel")
            if line.currency_id.compare_amounts(group_total[group_key] + vals["amount"], 0.0) < 0:
                vals.update(
                    kind="skip",
                    state="skipped",
                    skip_reason=self.env._(
                        "down payment of %(amount)s kept for a later invoice: this one is smaller",
                        amount=format_amount(self.env, -vals["amount"], line.currency_id),
                    ),
                )
                deductions.append(vals)
                continue
            group_total[group_key] += vals["amount"]
            vals["group_key"] = group_key
            vals["explanation"] = self.env._(
                "Down payment %(name)s invoiced on %(invoices)s, deducted: %(amount)s (order %(order)s).",
                name=line.name,
                invoices=", ".join(invoices.mapped("name")) or "-",
                amount=format_amount(self.env, vals["amount"], line.currency_id),
                order=line.order_id.name,
            )
            vals["_keys"] = [exactly_once_key("sale.order.line", line.id, quantity_watermark(line.qty_invoiced))]
            deductions.append(vals)
        return deductions

    # ------------------------------------------------------------------------------------------
    # Generic sources: other add-ons add what they bill
    # ------------------------------------------------------------------------------------------
    def _psa_collect_extra_sources(self, extra_sources=None):
        """Hook for extensions: billable sources other than order and agreement lines.

        Each add-on extends this method, calls ``super()`` and appends one run-line value dict per
        billed record: ``source_model`` / ``source_res_id`` (the record), ``source_type``,
        ``company_id``, ``partner_id``, ``name``, ``quantity``, ``price_unit``, ``currency_id``,
        ``amount``, ``explanation``, ``group_key`` and the private keys ``_keys`` (exactly-once
        keys, see ``billing_key``), ``_invoice_line_vals`` (with ``psa_billing_explanation``) and
        ``_invoice_vals`` (the invoice header, see ``_psa_generic_invoice_vals``).

        :param extra_sources: ``None`` for the preview (everything billable up to the period end),
            else ``{model: [ids]}``: only those records (confirm).
        """
        return []

    @api.model
    def _psa_extra_sources_of(self, run_lines):
        """``{model: [ids]}`` of the generic sources of ``run_lines``."""
        sources = defaultdict(list)
        for line in run_lines.filtered("source_model"):
            sources[line.source_model].append(line.source_res_id)
        return dict(sources)

    def _psa_generic_invoice_vals(self, partner, company, currency, origin):
        """Hook for extensions: the invoice header of a group made of generic sources only."""
        partner = partner.commercial_partner_id
        invoice_partner = self.env["res.partner"].browse(partner.address_get(["invoice"])["invoice"])
        fiscal_position = (
            self.env["account.fiscal.position"].with_company(company)._get_fiscal_position(invoice_partner)
        )
        return {
            "move_type": "out_invoice",
            "partner_id": invoice_partner.id,
            "company_id": company.id,
            "currency_id": currency.id,
            "fiscal_position_id": fiscal_position.id,
            "invoice_origin": origin,
            "invoice_payment_term_id": partner.with_company(company).property_payment_term_id.id,
        }

    def _psa_generic_group_key(self, partner, company, currency):
        """The invoice group of a generic source: with the customer's other lines when grouping per
        customer, else one invoice per customer for such sources."""
        partner = partner.commercial_partner_id
        invoice_partner_id = partner.address_get(["invoice"])["invoice"]
        return source_group_key(self.grouping, company.id, invoice_partner_id, currency.id)

    # ------------------------------------------------------------------------------------------
    # Purchase-order rules: what posting would refuse is skipped at the preview
    # ------------------------------------------------------------------------------------------
    def _psa_apply_po_rules(self, vals_list):
        """Skip the invoices (groups) their customer's purchase-order policy would refuse at posting.

        The check is psa_orders' own (``psa.customer.po._psa_check_documents``) on the invoice the
        group will become: its untaxed amount, the PO references it will carry, the invoice date.
        Groups of the same run billing the same PO count against its cap one after another.
        """
        bill_vals = [vals for vals in vals_list if vals["kind"] == "bill"]
        governed = self._psa_po_governed_partners({vals["partner_id"] for vals in bill_vals})
        bill_vals = [vals for vals in bill_vals if vals["partner_id"] in governed]
        consumed_in_run = defaultdict(float)
        for _group_key, group in groupby(bill_vals, key=lambda vals: vals["group_key"]):
            reason = self._psa_get_po_skip_reason(group, consumed_in_run)
            if reason:
                for vals in group:
                    vals.update({"kind": "skip", "state": "skipped", "skip_reason": reason})

    @api.model
    def _psa_po_governed_partners(self, partner_ids):
        """The ids among ``partner_ids`` (commercial partners) a PO rule can apply to: a policy other than
        *never*, or a registered PO. Two queries, so that runs for customers without PO rules pay nothing."""
        if not partner_ids:
            return set()
        partners = self.env["res.partner"].sudo().browse(list(partner_ids))
        governed = {partner.id for partner in partners if (partner.psa_po_policy or "never") != "never"}
        pos = self.env["psa.customer.po"].sudo()._read_group([("partner_id", "in", partners.ids)], ["partner_id"])
        return governed | {partner.id for (partner,) in pos}

    def _psa_get_po_skip_reason(self, group, consumed_in_run):
        """Hook for extensions: why the invoice of ``group`` (run-line values) would be refused at
        posting for a purchase-order rule, in psa_orders' words, or ``False``.

        ``consumed_in_run`` (``{(partner, reference, company): amount}``) collects what earlier
        groups of this run bill under each PO; it is updated when the group passes.
        """
        first = group[0]
        company = self.env["res.company"].browse(first["company_id"])
        partner = self.env["res.partner"].browse(first["partner_id"]).commercial_partner_id
        orders = self.env["sale.order"].browse(
            list(dict.fromkeys(vals["order_id"] for vals in group if vals.get("order_id")))
        )
        references = []
        for vals in group:
            references += po_rules.split_references((vals.get("_invoice_vals") or {}).get("ref"))
        references += [(order.client_order_ref or "").strip() for order in orders]
        references = [reference for reference in dict.fromkeys(references) if reference]
        amount = sum(
            self.env["res.currency"]
            .browse(vals["currency_id"])
            ._convert(vals["amount"], company.currency_id, company, self.invoice_date)
            for vals in group
        )
        in_run_key = (partner.id, references[0], company.id) if len(references) == 1 else None
        document = (
            orders[:1]
            or self.env["contract.contract"].browse(first.get("contract_id"))
            or self.env["account.move"].new(
                {"move_type": "out_invoice", "partner_id": partner.id, "company_id": company.id}
            )
        )
        check = {
            "document": document,
            "partner": partner,
            "company": company,
            "references": references,
            # earlier invoices of this run under the same PO are not posted yet at the preview
            "amount": amount + (consumed_in_run[in_run_key] if in_run_key else 0.0),
            "date": self.invoice_date,
        }
        try:
            self.env["psa.customer.po"]._psa_check_documents([check], self.env["account.move"])
        except UserError as error:
            return error.args[0]
        if in_run_key:
            consumed_in_run[in_run_key] += amount
        return False
