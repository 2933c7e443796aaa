from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import format_amount, format_date

from ..tools import po_rules


class PsaCustomerPo(models.Model):
    """A purchase order received from a customer, with its optional value cap and expiry date."""

    _name = "psa.customer.po"
    _description = "Customer Purchase Order"
    _inherit = ["mail.thread"]
    _order = "partner_id, date_expiry desc, id desc"

    name = fields.Char(string="PO Reference", required=True, tracking=True, index=True)
    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        index=True,
        tracking=True,
        domain=[("is_company", "=", True)],
        help="The commercial entity that issued the purchase order.",
    )
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company, index=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    amount_cap = fields.Monetary(
        string="Value Cap",
        tracking=True,
        help="Orders confirmed and invoices posted under this PO may not exceed this amount (untaxed). "
        "Zero means no cap.",
    )
    date_expiry = fields.Date(
        string="Expiry Date",
        tracking=True,
        help="No order may be confirmed and no invoice posted under this PO after this date.",
    )
    active = fields.Boolean(default=True)
    order_ids = fields.Many2many("sale.order", compute="_compute_consumption", string="Confirmed Orders")
    amount_consumed = fields.Monetary(
        compute="_compute_consumption",
        string="Consumed",
        help="Untaxed amount of the confirmed orders of this customer that carry this PO reference.",
    )
    amount_remaining = fields.Monetary(compute="_compute_consumption", string="Remaining")

    _sql_constraints = [
        (
            "psa_customer_po_unique",
            "unique(partner_id, name, company_id)",
            "A customer's purchase order reference is registered only once per company.",
        )
    ]

    @api.model_create_multi
    def create(self, vals_list):
        partners = self.env["res.partner"].browse([vals["partner_id"] for vals in vals_list if vals.get("partner_id")])
        commercial = {partner.id: partner.commercial_partner_id.id for partner in partners}
        for vals in vals_list:
            if vals.get("partner_id"):
                vals["partner_id"] = commercial[vals["partner_id"]]
            if vals.get("name"):
                vals["name"] = vals["name"].strip()
        return super().create(vals_list)

    @api.model
    def _get_consuming_orders_domain(self, partners, references):
        """Hook for extensions: the orders that consume the given POs of the given customers."""
        return [
            ("state", "=", "sale"),
            ("partner_id.commercial_partner_id", "in", partners.ids),
            ("client_order_ref", "in", list(references)),
        ]

    def _consumption_by_po(self, exclude_orders=None):
        """Untaxed amount (company currency) and orders consuming each PO of ``self``, in one query."""
        result = {po: (0.0, self.env["sale.order"]) for po in self}
        if not self:
            return result
        domain = self._get_consuming_orders_domain(self.partner_id, set(self.mapped("name")))
        if exclude_orders:
            domain.append(("id", "not in", exclude_orders.ids))
        groups = (
            self.env["sale.order"]
            .sudo()
            ._read_group(
                domain,
                ["partner_id", "client_order_ref", "company_id", "currency_id"],
                ["amount_untaxed:sum", "id:recordset"],
            )
        )
        by_key = {(po.partner_id, po.name, po.company_id): po for po in self}
        today = fields.Date.context_today(self)
        for partner, reference, company, currency, amount, orders in groups:
            po = by_key.get((partner.commercial_partner_id, reference, company))
            if not po:
                continue
            consumed, known = result[po]
            amount = currency._convert(amount, company.currency_id, company, today)
            result[po] = (consumed + amount, known | orders.sudo(False).with_env(self.env))
        return result

    @api.depends("name", "partner_id", "amount_cap", "company_id")
    def _compute_consumption(self):
        consumption = self._consumption_by_po()
        for po in self:
            amount, orders = consumption.get(po, (0.0, self.env["sale.order"]))
            po.order_ids = orders
            po.amount_consumed = amount
            po.amount_remaining = max(po.amount_cap - amount, 0.0) if po.amount_cap else 0.0

    @api.model
    def _psa_violation_message(self, document, rule, details):
        """The translated sentence that names the document, the rule and the PO."""
        currency = document.company_id.currency_id
        values = {"document": document.display_name, "customer": document.partner_id.commercial_partner_id.name}
        if rule == po_rules.RULE_REQUIRED:
            return self.env._(
                "%(document)s cannot go ahead: %(customer)s requires a purchase order reference on every order "
                "and invoice (rule: PO always required).",
                **values,
            )
        if rule == po_rules.RULE_REQUIRED_ABOVE:
            return self.env._(
                "%(document)s cannot go ahead: %(customer)s requires a purchase order reference above "
                "%(threshold)s untaxed (rule: PO required above an amount).",
                threshold=format_amount(self.env, details["threshold"], currency),
                **values,
            )
        if rule == po_rules.RULE_EXPIRED:
            return self.env._(
                "%(document)s cannot go ahead: purchase order %(po)s of %(customer)s expired on %(expiry)s "
                "(rule: PO expiry date).",
                po=details["reference"],
                expiry=format_date(self.env, details["expiry"]),
                **values,
            )
        return self.env._(
            "%(document)s cannot go ahead: it would exceed purchase order %(po)s of %(customer)s, capped at "
            "%(cap)s with %(remaining)s remaining (rule: PO value cap).",
            po=details["reference"],
            cap=format_amount(self.env, details["cap"], currency),
            remaining=format_amount(self.env, details["remaining"], currency),
            **values,
        )

    @api.model
    def _get_invoicing_moves_domain(self, partners, references):
        """Hook for extensions: the posted customer invoices and refunds that may bill the given POs
        (a refund by its own reference or by the reference of the invoice it reverses)."""
        domain = [
            ("state", "=", "posted"),
            ("move_type", "in", ("out_invoice", "out_refund")),
            ("commercial_partner_id", "in", partners.ids),
        ]
        reference_domains = [
            [(field, "ilike", reference)] for reference in references for field in ("ref", "reversed_entry_id.ref")
        ]
        return domain + (expression.OR(reference_domains) if reference_domains else [])

    @api.model
    def _psa_move_po_references(self, move):
        """Hook for extensions: the PO references a posted invoice or refund may count against, as
        candidate lists tried in order (the first naming exactly one registered PO wins).

        Odoo's reversal wizard gives a credit note the reference "Reversal of: <invoice>[, <reason>]":
        such a refund counts against the PO of the invoice it reverses."""
        candidates = [po_rules.split_references(move.ref)]
        if move.move_type == "out_refund" and move.reversed_entry_id:
            candidates.append(po_rules.split_references(move.reversed_entry_id.ref))
        return candidates

    def _invoicing_by_po(self, exclude_moves=None):
        """Untaxed amount (company currency, refunds deducted) already invoiced under each PO of ``self``.

        An invoice counts against a PO when its reference names that PO and only that PO."""
        result = dict.fromkeys(self, 0.0)
        if not self:
            return result
        domain = self._get_invoicing_moves_domain(self.partner_id, set(self.mapped("name")))
        if exclude_moves:
            domain.append(("id", "not in", exclude_moves.ids))
        by_key = {(po.partner_id, po.name, po.company_id): po for po in self}
        moves = (
            self.env["account.move"]
            .sudo()
            .search_fetch(
                domain,
                [
                    "ref",
                    "move_type",
                    "reversed_entry_id",
                    "commercial_partner_id",
                    "company_id",
                    "amount_untaxed_signed",
                ],
            )
        )
        for move in moves:
            for references in self._psa_move_po_references(move):
                po = len(references) == 1 and by_key.get((move.commercial_partner_id, references[0], move.company_id))
                if po:
                    result[po] += move.amount_untaxed_signed
                    break
        return result

    @api.model
    def _psa_check_documents(self, checks, exclude):
        """Refuse documents that break their customer's PO policy: the one place that enforces it.

        :param checks: list of dicts ``document`` (record, for the message), ``partner`` (customer),
            ``company``, ``references`` (list of PO references it carries), ``amount`` (untaxed, company
            currency) and ``date``
        :param exclude: the documents being checked (sale orders or invoices): their own amount is not yet
            consumed; orders consume a PO when confirmed, invoices when posted
        :raise UserError: naming the rule and the PO of the first document that breaks it
        """
        if not checks:
            return
        register = self.sudo()
        customers = (
            self.env["res.partner"].sudo().browse({check["partner"].commercial_partner_id.id for check in checks})
        )
        references = {reference for check in checks for reference in check["references"]}
        pos = register.browse()
        if references:
            pos = register.search(
                [
                    ("partner_id", "in", customers.ids),
                    ("name", "in", list(references)),
                    ("company_id", "in", list({check["company"].id for check in checks})),
                ]
            )
        if exclude._name == "sale.order":
            consumed = {po: amount for po, (amount, _orders) in pos._consumption_by_po(exclude).items()}
        else:
            consumed = pos._invoicing_by_po(exclude)
        by_key = {(po.partner_id, po.name, po.company_id): po for po in pos}
        for check in checks:
            customer = check["partner"].commercial_partner_id.sudo()
            # An invoice that bills several POs cannot be split between their caps: only expiry applies.
            capped = exclude._name == "sale.order" or len(check["references"]) == 1
            known = {}
            for reference in check["references"]:
                po = by_key.get((customer, reference, check["company"]))
                if po:
                    known[reference] = po_rules.RegisteredPO(
                        reference, po.amount_cap if capped else 0.0, po.date_expiry, consumed[po]
                    )
            violation = po_rules.po_violation(
                customer.psa_po_policy or po_rules.POLICY_NEVER,
                customer.psa_po_threshold,
                check["amount"],
                check["references"],
                known,
                check["date"],
            )
            if violation:
                raise UserError(self._psa_violation_message(check["document"], *violation))
