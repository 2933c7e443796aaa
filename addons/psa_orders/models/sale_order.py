from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.osv import expression
from odoo.tools import SQL, Query, format_amount, format_date

from ..tools import locks

ORDER_KINDS = [
    ("new_engagement", "New engagement"),
    ("change_increase", "Change order: scope increase"),
    ("change_same", "Change order: same value"),
    ("change_decrease", "Change order: scope decrease"),
    ("rate_change", "Rate change"),
    ("work_order", "Work order under an agreement"),
    ("billable_extra", "Billable work outside the agreement"),
]
# Kinds that change an engagement which already exists, so they must name its project.
ENGAGEMENT_CHANGE_KINDS = {"change_increase", "change_same", "change_decrease", "rate_change"}


class SaleOrder(models.Model):
    _inherit = "sale.order"

    psa_order_kind = fields.Selection(
        ORDER_KINDS,
        string="Order Kind",
        default="new_engagement",
        required=True,
        tracking=True,
        help="What this commitment does: start a new engagement or change an existing one.",
    )
    psa_engagement_project_id = fields.Many2one(
        "project.project",
        string="Engagement",
        tracking=True,
        index="btree_not_null",
        check_company=True,
        help="The project this order changes (change orders, rate changes, work orders).",
    )

    @api.model
    def _psa_engagement_change_kinds(self):
        """Hook for extensions: the order kinds that must name an existing engagement."""
        return ENGAGEMENT_CHANGE_KINDS

    @api.constrains("psa_order_kind", "psa_engagement_project_id", "partner_id")
    def _check_psa_engagement(self):
        change_kinds = self._psa_engagement_change_kinds()
        kinds = dict(self._fields["psa_order_kind"]._description_selection(self.env))
        for order in self:
            project = order.psa_engagement_project_id
            if order.psa_order_kind in change_kinds and not project:
                raise ValidationError(
                    self.env._(
                        "Order %(order)s is a %(kind)s: choose the engagement (project) it changes.",
                        order=order.name,
                        kind=kinds[order.psa_order_kind].lower(),
                    )
                )
            customer = order.partner_id.commercial_partner_id
            if project.partner_id and project.partner_id.commercial_partner_id != customer:
                raise ValidationError(
                    self.env._(
                        "Order %(order)s is for %(customer)s but engagement %(project)s belongs to %(owner)s.",
                        order=order.name,
                        customer=customer.display_name,
                        project=project.display_name,
                        owner=project.partner_id.commercial_partner_id.display_name,
                    )
                )

    psa_start_date = fields.Date(
        string="Start Date",
        tracking=True,
        help="When the work starts: the milestones and tasks of the products' project templates are due "
        "at their offsets from this date (the order date when empty).",
    )
    psa_effective_date = fields.Date(
        string="Effective Date",
        tracking=True,
        copy=False,
        help="On a rate change: time of the engagement not yet invoiced and dated on or after this date moves "
        "to the new rate; earlier or invoiced time keeps the old one.",
    )
    psa_engagement_sale_line_ids = fields.Many2many(
        "sale.order.line",
        compute="_compute_psa_engagement_sale_line_ids",
        string="Engagement Lines",
        help="The confirmed order lines the engagement's time is billed on (the lines a rate change may replace).",
    )
    psa_effect = fields.Text(
        string="Effect on the Engagement",
        readonly=True,
        copy=False,
        help="What confirming this order did to its project, written at confirmation.",
    )
    psa_customer_po_id = fields.Many2one(
        "psa.customer.po",
        compute="_compute_psa_customer_po_id",
        search="_search_psa_customer_po_id",
        string="Registered PO",
        help="The customer's registered purchase order this order's reference points to.",
    )
    psa_po_amount_remaining = fields.Monetary(
        related="psa_customer_po_id.amount_remaining",
        string="PO Remaining",
        currency_field="psa_po_currency_id",
    )
    psa_po_currency_id = fields.Many2one(related="company_id.currency_id", string="PO Currency")

    @api.depends("client_order_ref", "partner_id", "company_id")
    def _compute_psa_customer_po_id(self):
        references = {(order.client_order_ref or "").strip() for order in self} - {""}
        pos = self.env["psa.customer.po"]
        if references:
            pos = pos.search(
                [
                    ("name", "in", list(references)),
                    ("partner_id", "in", self.partner_id.commercial_partner_id.ids),
                ]
            )
        by_key = {(po.partner_id, po.name, po.company_id): po for po in pos}
        for order in self:
            key = (order.partner_id.commercial_partner_id, (order.client_order_ref or "").strip(), order.company_id)
            order.psa_customer_po_id = by_key.get(key, False)

    def _search_psa_customer_po_id(self, operator, value):
        """Orders whose reference points to one of the registered POs the condition selects, matched as
        ``_compute_psa_customer_po_id`` matches them (same commercial customer, same company, reference
        equal to the PO's once trimmed). Not stored: registering a PO later must not leave orders stale."""
        if operator in ("any", "not any"):
            po_domain, negative = value, operator == "not any"
        elif value is False or value is None:
            # ``= False``: no registered PO, i.e. not among the orders that have one
            po_domain, negative = [], operator in ("=", "in")
        else:
            negative = operator in expression.NEGATIVE_TERM_OPERATORS
            positive = expression.TERM_OPERATORS_NEGATION[operator] if negative else operator
            if isinstance(value, str):
                po_domain = [("display_name", positive, value)]
            else:
                po_domain = [("id", "in", value if isinstance(value, list | tuple | Query) else [value])]
        pos = self.env["psa.customer.po"]._search(po_domain)
        # the subquery reads these columns directly: pending ORM writes must reach them first
        self.env["sale.order"].flush_model(["client_order_ref", "partner_id", "company_id"])
        self.env["res.partner"].flush_model(["commercial_partner_id"])
        self.env["psa.customer.po"].flush_model(["partner_id", "company_id", "name"])
        orders = SQL(
            """(
            SELECT sale_order.id
              FROM sale_order
              JOIN res_partner customer ON customer.id = sale_order.partner_id
              JOIN psa_customer_po po ON po.partner_id = customer.commercial_partner_id
                                     AND po.company_id = sale_order.company_id
                                     AND po.name = BTRIM(sale_order.client_order_ref, E' \\t\\r\\n')
             WHERE po.id IN %s
            )""",
            pos.subselect(),
        )
        return [("id", "not in" if negative else "in", orders)]

    @api.depends("psa_engagement_project_id")
    def _compute_psa_engagement_sale_line_ids(self):
        for order in self:
            project = order.psa_engagement_project_id
            order.psa_engagement_sale_line_ids = project._psa_engagement_sale_lines() if project else False

    def _psa_check_po_compliance(self):
        """Refuse to confirm orders that break their customer's purchase order policy."""
        today = fields.Date.context_today(self)
        checks = [
            {
                "document": order,
                "partner": order.partner_id,
                "company": order.company_id,
                "references": [order.client_order_ref.strip()] if (order.client_order_ref or "").strip() else [],
                "amount": order.currency_id._convert(
                    order.amount_untaxed, order.company_id.currency_id, order.company_id, today
                ),
                "date": today,
            }
            for order in self
        ]
        self.env["psa.customer.po"]._psa_check_documents(checks, self)

    def _psa_get_engagement_project(self):
        """Hook for extensions: the existing project this order's project-tracked lines land on
        (instead of a new project), or an empty recordset for Odoo's behaviour.

        An order that changes an engagement lands on it; a new engagement whose project was chosen on
        the quotation lands on that project."""
        self.ensure_one()
        if self.psa_order_kind != "new_engagement" and self.psa_engagement_project_id:
            return self.psa_engagement_project_id.sudo()
        if self.psa_order_kind == "new_engagement" and self.project_id:
            return self.project_id.sudo()
        return self.env["project.project"]

    def action_confirm(self):
        # The same quotation confirmed twice at once (a double click, two people, a retried call): the second
        # waits for the first, then runs again with what it committed and is refused as a later one would be.
        # Before anything else of the confirmation writes (the outer overrides call super() first).
        locks.lock_rows(self.env.cr, "sale_order", self.ids)
        # Every check runs before anything is created: a refused order leaves no project, task or
        # agreement behind.
        rate_plan = self.order_line._psa_plan_rate_change()
        # The quantity of a rate-change line is part of the amount the PO check looks at.
        self.order_line._psa_set_rate_change_quantities(rate_plan)
        self._psa_check_po_compliance()
        decrease_plan = self.order_line._psa_plan_scope_decrease()
        fixed_price_plan = self.order_line._psa_plan_fixed_price_decrease()
        # Before product_contract (next in the chain) creates agreements: recurring lines land on the
        # customer's running agreement instead of a second one.
        self._psa_link_running_agreement()
        result = super().action_confirm()
        self.order_line._psa_apply_scope_decrease(decrease_plan)
        self.order_line._psa_apply_fixed_price_decrease(fixed_price_plan)
        self.order_line._psa_apply_rate_change(rate_plan)
        self._psa_record_effect(decrease_plan, rate_plan=rate_plan, fixed_price_plan=fixed_price_plan)
        return result

    def action_create_contract(self):
        """Salespeople confirm orders with recurring lines. OCA contract lets only accounting managers create
        agreements and their lines, so they are created as superuser, and only once the user is checked to
        be allowed to change these orders (access rights and record rules).

        Answers True: OCA's method returns the agreements as a recordset, which neither XML-RPC nor the web
        client can carry, and no caller uses it (the agreements are on the order lines, ``contract_id``)."""
        self.check_access("write")
        super(SaleOrder, self.sudo()).action_create_contract()
        return True

    def _get_psa_running_agreement_domain(self):
        """Hook for extensions: the customer agreements (OCA contract) this order's recurring lines may
        land on: those of the customer's commercial entity, so that an order of a contact lands on the
        company's agreement."""
        self.ensure_one()
        today = fields.Date.context_today(self)
        return [
            ("partner_id.commercial_partner_id", "=", self.partner_id.commercial_partner_id.id),
            ("company_id", "=", self.company_id.id),
            ("contract_type", "=", "sale"),
            ("is_terminated", "=", False),
            "|",
            ("date_end", "=", False),
            ("date_end", ">=", today),
        ]

    def _psa_agreement_change_date(self):
        """Hook for extensions: the date a scope change of the running agreement takes effect."""
        self.ensure_one()
        return self.psa_start_date or fields.Date.context_today(self)

    def _psa_get_running_agreement_line(self, agreement, product, date):
        """Hook for extensions: the agreement line of ``product`` running on ``date`` that a scope change
        replaces, or an empty recordset."""
        self.ensure_one()
        return agreement.contract_line_ids.filtered(
            lambda line: line.product_id == product
            and not line.is_canceled
            and not line.display_type
            and (not line.date_end or line.date_end >= date)
        ).sorted(lambda line: (line.date_start, line.id), reverse=True)[:1]

    def _psa_plan_agreement_scope_change(self, lines, agreement):
        """Values that make each recurring line of a change order replace the running agreement line of
        its product from the order's start date.

        OCA product_contract supports this cleanly through ``contract_line_id`` ("contract line to
        replace"): when the agreement line is created it stops the replaced line the day before and plans
        the new one as its successor (OCA contract_line_successor), so invoiced periods keep their
        quantity. Updating the quantity in place would re-price periods already invoiced.

        :return: ``{order line: values to write}``
        :raise UserError: when the change cannot apply, before anything is written"""
        self.ensure_one()
        if self.psa_order_kind not in ("change_increase", "change_same", "change_decrease"):
            return {}
        date = self._psa_agreement_change_date()
        plan = {}
        for line in lines:
            running = self._psa_get_running_agreement_line(agreement, line.product_id, date)
            if not running:
                continue
            change = line.product_uom._compute_quantity(line.product_uom_qty, running.uom_id, raise_if_failure=False)
            new_quantity = running.quantity + change
            values = {
                "order": self.name,
                "product": line.product_id.display_name,
                "agreement": agreement.display_name,
            }
            refusal = None
            if new_quantity < 0:
                refusal = self.env._(
                    "%(order)s cannot remove %(change)s of %(product)s from agreement %(agreement)s: only %(running)s "
                    "run on it (rule: a scope decrease never goes below zero).",
                    change=-change,
                    running=running.quantity,
                    **values,
                )
            elif running.last_date_invoiced and date <= running.last_date_invoiced:
                refusal = self.env._(
                    "%(order)s changes %(product)s on agreement %(agreement)s from %(date)s, but it is already "
                    "invoiced until %(invoiced)s: set a start date after that (rule: invoiced periods keep their "
                    "quantity).",
                    date=format_date(self.env, date),
                    invoiced=format_date(self.env, running.last_date_invoiced),
                    **values,
                )
            elif running.date_start < date and not running.is_stop_allowed:
                refusal = self.env._(
                    "%(order)s cannot change %(product)s on agreement %(agreement)s: its running line may not be "
                    "stopped (rule: OCA contract line states).",
                    **values,
                )
            if refusal:
                raise UserError(refusal)
            plan[line] = {
                "contract_line_id": running.id,
                "date_start": date,
                "date_end": running.date_end,
            }
        return plan

    def _psa_link_running_agreement(self):
        """Point the recurring lines that would create an agreement at the customer's running one; the
        recurring lines of a change order replace the running line of their product.

        Only where the company lets confirmation create agreements (OCA product_contract's setting): when
        it does not, agreements are created by hand and the lines stay as the user left them. A line linked
        here gets its start date from its product's start-date method first, as OCA product_contract does
        only for the lines it links itself (a line with an agreement is left alone there)."""
        for order in self.filtered("company_id.create_contract_at_sale_order_confirmation"):
            lines = order.order_line.filtered(lambda line: line.product_id.is_contract and not line.contract_id)
            if not lines:
                continue
            agreement = (
                self.env["contract.contract"]
                .sudo()
                .search(order._get_psa_running_agreement_domain(), order="date desc, id desc", limit=1)
            )
            if not agreement:
                continue
            # An agreement made from a template only takes lines of products of that template.
            lines = lines.filtered(
                lambda line, agreement=agreement: not agreement.contract_template_id
                or line.contract_template_id == agreement.contract_template_id
            )
            if not lines:
                continue
            # The start-date method first: a scope change then sets its own start date.
            lines._set_contract_line_start_date()
            scope_plan = order._psa_plan_agreement_scope_change(lines, agreement)
            # As superuser: OCA's checks on the line read the agreement, which salespeople may not read.
            lines.sudo().write({"contract_id": agreement.id})
            for line, values in scope_plan.items():
                line.sudo().write(values)
            added = lines - self.env["sale.order.line"].concat(*scope_plan)
            if added:
                order.message_post(
                    body=self.env._(
                        "Recurring lines %(products)s added to the running agreement %(agreement)s.",
                        products=", ".join(added.product_id.mapped("display_name")),
                        agreement=agreement.display_name,
                    )
                )
            for line in scope_plan:
                order.message_post(body=line._psa_describe_agreement_scope_change())

    def _psa_describe_effect(self, decrease_plan, rate_plan=(), fixed_price_plan=()):
        """Hook for extensions: one readable sentence per thing confirming this order did to its project."""
        self.ensure_one()
        # Lines that changed what already existed: the tasks and project they now bill were not created.
        lines = self.order_line - self.order_line._psa_engagement_change_lines()
        projects = lines.project_id | self.project_id
        tasks = self.env["project.task"].sudo().search([("sale_line_id", "in", lines.ids)])
        milestones = self.env["project.milestone"].sudo().search([("sale_line_id", "in", lines.ids)])
        sentences = []
        created = projects.filtered(lambda project: project.sale_line_id in lines)
        if created:
            sentences.append(
                self.env._("Created project %(projects)s.", projects=", ".join(created.mapped("display_name")))
            )
        if tasks:
            sentences.append(
                self.env._(
                    "Added %(count)s task(s), %(hours)s planned hours, to %(projects)s.",
                    count=len(tasks),
                    hours=round(sum(tasks.mapped("allocated_hours")), 2),
                    projects=", ".join(tasks.project_id.mapped("display_name")),
                )
            )
        if milestones:
            sentences.append(
                self.env._(
                    "Added %(count)s milestone(s): %(names)s.",
                    count=len(milestones),
                    names=", ".join(milestones.mapped("name")),
                )
            )
        for line, new_allocated in decrease_plan.items():
            if line.order_id == self:
                sentences.append(
                    self.env._(
                        "Removed %(hours)s planned hours of %(product)s from %(tasks)s.",
                        hours=-line.product_uom_qty,
                        product=line.product_id.display_name,
                        tasks=", ".join(task.name for task in new_allocated),
                    )
                )
        for step in fixed_price_plan:
            if step.line.order_id == self:
                sentences.append(step.line._psa_describe_fixed_price_decrease(step))
        for step in rate_plan:
            if step.line.order_id == self:
                sentences.append(
                    self.env._(
                        "Moved %(count)s entries, %(hours)s h from %(date)s of %(old_line)s to rate %(rate)s.",
                        count=len(step.moving),
                        hours=round(sum(step.moving.mapped("unit_amount")), 2),
                        date=format_date(self.env, self.psa_effective_date),
                        old_line=step.source.display_name,
                        rate=format_amount(self.env, step.line.price_unit, self.currency_id),
                    )
                )
        scope_changes = lines.filtered(lambda line: line.is_contract and line._psa_is_agreement_scope_change())
        sentences.extend(line._psa_describe_agreement_scope_change() for line in scope_changes)
        agreements = (lines - scope_changes).filtered("product_id.is_contract").contract_id.sudo()
        if agreements:
            sentences.append(
                self.env._(
                    "Recurring lines on agreement %(agreements)s.",
                    agreements=", ".join(agreements.mapped("display_name")),
                )
            )
        if not sentences:
            sentences.append(
                self.env._(
                    "No change to the plan: %(amount)s committed.",
                    amount=format_amount(self.env, self.amount_untaxed, self.currency_id),
                )
            )
        return " ".join(sentences)

    def _psa_record_effect(self, decrease_plan, rate_plan=(), fixed_price_plan=()):
        for order in self:
            order.psa_effect = order._psa_describe_effect(
                decrease_plan, rate_plan=rate_plan, fixed_price_plan=fixed_price_plan
            )
