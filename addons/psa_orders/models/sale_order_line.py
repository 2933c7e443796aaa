from collections import defaultdict, namedtuple
from datetime import datetime, time

from dateutil.relativedelta import relativedelta
from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import float_compare, float_is_zero, format_amount, format_date

from ..tools import rate_change, scope
from ..tools.offsets import apply_offset

PROJECT_TRACKINGS = ("task_in_project", "project_only")
# Order kinds whose recurring lines change the quantity of the running agreement line of the same product.
AGREEMENT_SCOPE_KINDS = ("change_increase", "change_same", "change_decrease")

# What confirming a rate-change line will do, computed before anything is written.
RatePlan = namedtuple("RatePlan", ["line", "source", "moving", "staying", "kept_qty", "moved_qty"])
# What confirming a fixed-price decrease line will do: {milestone: (old value, new value)}, {task: new hours}.
FixedPricePlan = namedtuple("FixedPricePlan", ["line", "milestones", "tasks"])


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    psa_rate_source_line_id = fields.Many2one(
        "sale.order.line",
        string="Changes Rate Of",
        copy=False,
        index="btree_not_null",
        help="On a rate change: the order line of the engagement whose rate this line replaces from the "
        "effective date (when empty, the engagement's only line of the same product).",
    )

    def _psa_is_scope_decrease(self):
        """Hook for extensions: whether this line removes planned hours from its engagement instead of
        creating a task (a negative quantity of a project-tracked service on a scope-decrease order)."""
        self.ensure_one()
        return (
            self.order_id.psa_order_kind == "change_decrease"
            and bool(self.order_id.psa_engagement_project_id)
            and self.product_uom_qty < 0
            and self.product_id.service_tracking in PROJECT_TRACKINGS
            and self.product_id.service_type != "milestones"
        )

    def _psa_scope_decrease_lines(self):
        return self.filtered(lambda line: not line.display_type and line._psa_is_scope_decrease())

    def _psa_is_fixed_price_decrease(self):
        """Hook for extensions: whether this line takes value off the open milestones of a fixed-price
        engagement (a negative quantity of a milestone-billed service on a scope-decrease order)."""
        self.ensure_one()
        return (
            self.order_id.psa_order_kind == "change_decrease"
            and bool(self.order_id.psa_engagement_project_id)
            and self.product_uom_qty < 0
            and self.product_id.type == "service"
            and self.product_id.service_type == "milestones"
        )

    def _psa_fixed_price_decrease_lines(self):
        return self.filtered(lambda line: not line.display_type and line._psa_is_fixed_price_decrease())

    def _psa_is_rate_change(self):
        """Hook for extensions: whether this line sets a new rate for its engagement's time instead of
        adding work to it."""
        self.ensure_one()
        return self.order_id.psa_order_kind == "rate_change" and bool(self.order_id.psa_engagement_project_id)

    def _psa_rate_change_lines(self):
        return self.filtered(lambda line: not line.display_type and line._psa_is_rate_change())

    def _psa_engagement_change_lines(self):
        """Lines that change what already exists on the engagement and create no task or project."""
        return self._psa_scope_decrease_lines() | self._psa_fixed_price_decrease_lines() | self._psa_rate_change_lines()

    def _timesheet_service_generation(self):
        """Lines of an order that changes an engagement land on that engagement's project: their tasks
        are created there and no new project is made. Scope decreases and rate changes create nothing (see
        ``_psa_apply_scope_decrease``, ``_psa_apply_fixed_price_decrease``, ``_psa_apply_rate_change``)."""
        decreases = self._psa_engagement_change_lines()
        lines = self - decreases
        selling_time = defaultdict(lambda: self.env["sale.order.line"])
        added_hours = defaultdict(float)
        for line in lines:
            engagement = line.order_id._psa_get_engagement_project()
            if engagement and not line.project_id and line.product_id.service_tracking in PROJECT_TRACKINGS:
                line.project_id = engagement
                if not line.order_id.project_id:
                    line.order_id.project_id = engagement
                if line.product_id.project_template_id:
                    line._psa_add_template_to_project(engagement)
                if line.product_id.service_type == "timesheet" and not engagement.allow_timesheets:
                    selling_time[engagement] |= line
                added_hours[engagement] += line._psa_allocated_hours_added(engagement)
        self._psa_allow_timesheets(selling_time)
        for engagement, hours in added_hours.items():
            if hours:
                # As superuser: the engagement is the order's own (see _psa_allow_timesheets)
                engagement.sudo().allocated_hours += hours
        return super(SaleOrderLine, lines)._timesheet_service_generation()

    def _psa_allocated_hours_added(self, engagement):
        """Hook for extensions: the hours this line adds to the Allocated Time of the existing engagement it
        lands on, as Odoo counts them on a project it creates for an order (``_timesheet_create_project``):
        the template's planned hours for a product with a project template, else the line's quantity in
        the company's time unit (Odoo only counts them when it creates the project itself)."""
        self.ensure_one()
        template = self.product_id.project_template_id.sudo()
        if template:
            return template.allocated_hours or sum(
                template.task_ids.filtered(lambda task: not task.parent_id).mapped("allocated_hours")
            )
        return self._convert_qty_company_hours(engagement.company_id or self.company_id)

    def _psa_allow_timesheets(self, lines_per_project):
        """Turn timesheets on for the existing projects that lines delivered by timesheets land on, as Odoo
        does on the projects it creates for such lines (else their time could not be logged); each project's
        chatter says which order did it.

        :param lines_per_project: ``{project (sudo): the lines selling time on it}``"""
        if not lines_per_project:
            return
        projects = self.env["project.project"].concat(*lines_per_project)
        # As superuser: the salesperson confirming the order may not configure projects; the projects are
        # the order's own engagement (chosen on the quotation or named by the change order).
        projects.sudo().write({"allow_timesheets": True})
        for project, lines in lines_per_project.items():
            project.message_post(
                body=self.env._(
                    "Timesheets turned on: %(order)s sells time on this project (%(products)s).",
                    order=", ".join(lines.order_id.mapped("name")),
                    products=", ".join(lines.product_id.mapped("display_name")),
                )
            )

    # Plans built from the product's project template

    def _psa_plan_start_date(self):
        """Hook for extensions: the date template offsets count from."""
        self.ensure_one()
        order = self.order_id
        return order.psa_start_date or fields.Date.context_today(order, order.date_order)

    def _psa_schedule_from_template(self, milestones, tasks):
        """Set the deadlines of milestones and tasks made from a template from their offsets."""
        self.ensure_one()
        start = self._psa_plan_start_date()
        for milestone in milestones.filtered("psa_offset"):
            milestone.deadline = apply_offset(start, milestone.psa_offset)
        for task in tasks.filtered("psa_offset"):
            task.date_deadline = datetime.combine(apply_offset(start, task.psa_offset), time(12))

    def _psa_prepare_template_milestone_vals(self, template_milestone, project):
        """Hook for extensions: values of the milestone a template milestone becomes on an existing project."""
        self.ensure_one()
        vals = {
            "name": template_milestone.name,
            "project_id": project.id,
            "psa_offset": template_milestone.psa_offset,
            "psa_price_share": template_milestone.psa_price_share,
        }
        if self.product_id.service_policy == "delivered_milestones":
            vals["sale_line_id"] = self.id
            # its own share from the start: left empty, Odoo makes each new milestone worth the whole line
            vals["quantity_percentage"] = template_milestone.psa_price_share / 100
        return vals

    def _psa_prepare_template_task_vals(self, template_task, project, milestone_map):
        """Hook for extensions: values of the task a template task becomes on an existing project."""
        self.ensure_one()
        return {
            "name": template_task.name,
            "description": template_task.description,
            "allocated_hours": template_task.allocated_hours,
            "psa_offset": template_task.psa_offset,
            "project_id": project.id,
            "partner_id": self.order_id.partner_id.id,
            "sale_line_id": self.id,
            "milestone_id": milestone_map.get(template_task.milestone_id.id, False),
            "user_ids": False,
        }

    def _psa_add_template_to_project(self, project):
        """A change order's line whose product has a project template adds the template's milestones and
        tasks (with their planned hours) to the existing project instead of copying the template."""
        self.ensure_one()
        template = self.product_id.project_template_id.sudo()
        template_milestones = template.milestone_ids
        milestones = (
            self.env["project.milestone"]
            .sudo()
            .create(
                [self._psa_prepare_template_milestone_vals(milestone, project) for milestone in template_milestones]
            )
        )
        milestone_map = dict(zip(template_milestones.ids, milestones.ids, strict=True))
        template_tasks = template.with_context(active_test=True).task_ids.filtered(lambda task: not task.parent_id)
        tasks = (
            self.env["project.task"]
            .sudo()
            .create([self._psa_prepare_template_task_vals(task, project, milestone_map) for task in template_tasks])
        )
        self._psa_schedule_from_template(milestones, tasks)

    def _timesheet_create_project(self):
        project = super()._timesheet_create_project()
        if self.product_id.project_template_id:
            self._psa_schedule_from_template(project.milestone_ids, project.task_ids)
        return project

    def _handle_milestones(self, project):
        """Milestones from a template deliver their own share of the line, not an equal split."""
        own = project.milestone_ids.filtered(lambda milestone: milestone.sale_line_id == self)
        result = None
        if not own or self.product_id.service_policy != "delivered_milestones":
            result = super()._handle_milestones(project)
        shared = project.milestone_ids.filtered(lambda m: m.sale_line_id == self and m.psa_price_share)
        # one share at a time may sum above 100% half-way (70% written before 50% becomes 30%): checked once
        for milestone in shared.with_context(psa_defer_share_check=True):
            milestone.product_uom_qty = self.product_uom_qty * milestone.psa_price_share / 100
        shared._check_psa_shares_of_line()
        return result

    def _psa_get_decrease_tasks_domain(self):
        """Hook for extensions: the open tasks of the engagement a scope-decrease line may shorten."""
        self.ensure_one()
        return [
            ("project_id", "=", self.order_id.psa_engagement_project_id.id),
            ("is_closed", "=", False),
            ("allocated_hours", ">", 0),
            ("sale_line_id.product_id", "=", self.product_id.id),
        ]

    def _psa_plan_scope_decrease(self):
        """Compute, without writing, the new planned hours of the tasks each decrease line shortens.

        Latest tasks are shortened first. :raise UserError: when the decrease exceeds the hours still
        planned and not spent, so that the order is refused before anything is created."""
        plan = {}
        for line in self._psa_scope_decrease_lines():
            tasks = self.env["project.task"].sudo().search(line._psa_get_decrease_tasks_domain(), order="id desc")
            hours = -line._convert_qty_company_hours(line.company_id)
            new_allocated, shortfall = scope.distribute_decrease(
                hours, [scope.OpenTask(task, task.allocated_hours, task.effective_hours) for task in tasks]
            )
            if shortfall:
                raise UserError(
                    self.env._(
                        "%(order)s cannot remove %(hours)s hours of %(product)s from %(project)s: only "
                        "%(available)s planned hours are not spent yet on its open tasks (rule: a scope "
                        "decrease never removes time already spent or invoiced).",
                        order=line.order_id.name,
                        hours=hours,
                        product=line.product_id.display_name,
                        project=line.order_id.psa_engagement_project_id.display_name,
                        available=round(hours - shortfall, 2),
                    )
                )
            plan[line] = new_allocated
        return plan

    def _psa_apply_scope_decrease(self, plan):
        """Write the planned hours computed by ``_psa_plan_scope_decrease`` and say why on each task."""
        for line, new_allocated in plan.items():
            line._psa_reduce_task_hours(new_allocated, self.env._("scope decrease %(order)s", order=line.order_id.name))
            line.order_id.message_post(
                body=Markup("<p>%s</p>")
                % self.env._(
                    "Scope decrease applied: %(hours)s hours of %(product)s removed from %(tasks)s.",
                    hours=-line.product_uom_qty,
                    product=line.product_id.display_name,
                    tasks=", ".join(task.name for task in new_allocated),
                )
            )

    def _psa_reduce_task_hours(self, new_hours, reason):
        """Hook for extensions: lower the planned hours of tasks of this line's engagement and say why on
        each task ("Planned hours reduced from 40.0 to 34.0 by <reason>.").

        :param new_hours: ``{task: new planned hours}``, as planned by a decrease of this line
        :param reason: translated words naming what reduced them, e.g. "scope decrease S00042"
        """
        self.ensure_one()
        for task, allocated in new_hours.items():
            before = task.allocated_hours
            task.allocated_hours = allocated
            # the engagement's Allocated Time shrinks with its tasks' planned hours (never below zero)
            project = task.project_id.sudo()
            project.allocated_hours = max(project.allocated_hours - (before - allocated), 0.0)
            task.message_post(
                body=Markup("<p>%s</p>")
                % self.env._(
                    "Planned hours reduced from %(before)s to %(after)s by %(reason)s.",
                    before=before,
                    after=allocated,
                    reason=reason,
                )
            )

    # Rate changes

    def _psa_is_billed_on_timesheets(self):
        """Hook for extensions: whether this line is invoiced on the time recorded against it."""
        self.ensure_one()
        product = self.product_id
        return (
            product.type == "service" and product.service_type == "timesheet" and product.invoice_policy == "delivery"
        )

    def _psa_get_rate_source_line(self, engagement_lines):
        """Hook for extensions: the engagement's order line whose rate this line replaces: the line named on
        it, else the only other line of the same product billed on the engagement.

        :raise UserError: when no line, or more than one, can be told apart"""
        self.ensure_one()
        if self.psa_rate_source_line_id:
            return self.psa_rate_source_line_id.sudo()
        candidates = engagement_lines.filtered(
            lambda line: line.product_id == self.product_id and line.order_id != self.order_id
        )
        if len(candidates) == 1:
            return candidates
        values = {
            "order": self.order_id.name,
            "project": self.order_id.psa_engagement_project_id.display_name,
            "product": self.product_id.display_name,
        }
        if not candidates:
            raise UserError(
                self.env._(
                    "%(order)s: engagement %(project)s has no running line of %(product)s whose rate could change; "
                    "choose the line in Changes Rate Of.",
                    **values,
                )
            )
        raise UserError(
            self.env._(
                "%(order)s: engagement %(project)s has several lines of %(product)s (%(lines)s); choose the one "
                "whose rate changes in Changes Rate Of.",
                lines=", ".join(candidates.mapped("display_name")),
                **values,
            )
        )

    @api.model
    def _get_psa_rate_change_timesheets_domain(self, sources, projects):
        """Hook for extensions: the time entries a rate change of ``sources`` on ``projects`` looks at (it
        moves those not invoiced from the effective date and keeps the others)."""
        return [("so_line", "in", sources.ids), ("project_id", "in", projects.ids)]

    def _psa_plan_rate_change(self):
        """Compute, without writing, the time entries each rate-change line takes over and how the ordered
        quantity is shared between the old rate and the new one.

        :raise UserError: naming the rule, before anything is created"""
        lines = self._psa_rate_change_lines()
        if not lines:
            return []
        pairs = []
        for line in lines:
            order = line.order_id
            engagement = order.psa_engagement_project_id.sudo()
            if not order.psa_effective_date:
                raise UserError(
                    self.env._(
                        "%(order)s is a rate change: set its Effective Date, from which time not yet invoiced "
                        "moves to the new rate.",
                        order=order.name,
                    )
                )
            engagement_lines = engagement._psa_engagement_sale_lines()
            source = line._psa_get_rate_source_line(engagement_lines)
            refusal = None
            if not line._psa_is_billed_on_timesheets():
                refusal = self.env._(
                    "%(order)s: %(product)s is not invoiced on timesheets, so it cannot carry a rate (rule: a rate "
                    "change sets the hourly rate of time not yet invoiced).",
                    order=order.name,
                    product=line.product_id.display_name,
                )
            elif source not in engagement_lines or not source._psa_is_billed_on_timesheets():
                refusal = self.env._(
                    "%(order)s changes the rate of %(line)s, which has no remaining engagement on %(project)s "
                    "(rule: a rate change applies to a confirmed line billing time on its engagement).",
                    order=order.name,
                    line=source.display_name,
                    project=engagement.display_name,
                )
            elif source.order_id.locked:
                refusal = self.env._(
                    "%(order)s changes the rate of %(line)s, but its order %(source_order)s is locked: unlock it "
                    "first.",
                    order=order.name,
                    line=source.display_name,
                    source_order=source.order_id.name,
                )
            elif source in [pair[1] for pair in pairs]:
                refusal = self.env._(
                    "%(order)s changes the rate of %(line)s twice: keep one line per rate.",
                    order=order.name,
                    line=source.display_name,
                )
            if refusal:
                raise UserError(refusal)
            pairs.append((line, source))
        sources = self.browse([pair[1].id for pair in pairs]).sudo()
        projects = lines.order_id.psa_engagement_project_id
        timesheets = (
            self.env["account.analytic.line"]
            .sudo()
            .search(self._get_psa_rate_change_timesheets_domain(sources, projects), order="date, id")
        )
        by_key = defaultdict(lambda: self.env["account.analytic.line"].sudo())
        for timesheet in timesheets:
            by_key[timesheet.so_line.id, timesheet.project_id.id] |= timesheet
        plan = []
        for line, source in pairs:
            entries = by_key[source.id, line.order_id.psa_engagement_project_id.id]
            moving_ids, staying_ids = rate_change.split_entries(
                [
                    rate_change.TimeEntry(entry.id, entry.date, entry.unit_amount, not entry._is_not_billed())
                    for entry in entries
                ],
                line.order_id.psa_effective_date,
            )
            staying = entries.browse(staying_ids)
            staying_qty = sum(
                entry.product_uom_id._compute_quantity(entry.unit_amount, source.product_uom, raise_if_failure=False)
                if entry.product_uom_id
                else entry.unit_amount
                for entry in staying
            )
            kept_qty, moved_qty = rate_change.split_commitment(source.product_uom_qty, staying_qty)
            plan.append(RatePlan(line, source, entries.browse(moving_ids), staying, kept_qty, moved_qty))
        return plan

    def _psa_set_rate_change_quantities(self, plan):
        """Before confirmation (and the PO check): a rate-change line orders what is still to deliver of the
        line it replaces, so that the engagement's committed value stays the sum of its orders."""
        for step in plan:
            step.line.with_context(no_update_allocated_hours=True).product_uom_qty = step.moved_qty

    def _psa_apply_rate_change(self, plan):
        """Move the time and the engagement's future time to the new rate, as planned by
        ``_psa_plan_rate_change``, and say what moved on the order and the project."""
        for step in plan:
            line, source = step.line, step.source
            order = line.order_id
            engagement = order.psa_engagement_project_id.sudo()
            # Pin the time that keeps the old rate first: switching the tasks' line below makes Odoo
            # recompute the sale line of every uninvoiced entry of those tasks, whatever its date.
            step.staying.filtered(lambda entry: entry._is_not_billed() and not entry.is_so_line_edited).write(
                {"is_so_line_edited": True}
            )
            # Future time lands on the new line: tasks, project and employee mappings billed on the old one.
            tasks = (
                self.env["project.task"]
                .sudo()
                .with_context(active_test=False)
                .search([("project_id", "=", engagement.id), ("sale_line_id", "=", source.id)])
            )
            tasks.write({"sale_line_id": line.id})
            if engagement.sale_line_id == source:
                engagement.sale_line_id = line
            engagement.sale_line_employee_ids.filtered(
                lambda mapping, source=source: mapping.sale_line_id == source
            ).write({"sale_line_id": line.id})
            # The moving time follows Odoo's own rule (``_compute_so_line``) now that its task, project or
            # mapping bills the new line; recomputing rather than writing also moves time already approved
            # by a timesheet workflow that locks the fields people write.
            moving = step.moving
            moving.filtered("is_so_line_edited").write({"is_so_line_edited": False})
            self.env.add_to_compute(moving._fields["so_line"], moving)
            moving.flush_recordset(["so_line"])
            # Time whose sale line Odoo determines otherwise (e.g. another employee mapping) is moved as said.
            moving.filtered(lambda entry, line=line: entry.so_line != line).write({"so_line": line.id})
            source.with_context(no_update_allocated_hours=True).product_uom_qty = step.kept_qty
            line.sudo().project_id = engagement
            note = self.env._(
                "Rate change %(order)s: %(count)s entries, %(hours)s h from %(date)s moved from %(old_line)s at "
                "%(old_rate)s to rate %(rate)s; %(kept)s entries dated before or already invoiced keep the old rate. "
                "%(old_order)s now orders %(kept_qty)s, this order %(moved_qty)s.",
                order=order.name,
                count=len(step.moving),
                hours=round(sum(step.moving.mapped("unit_amount")), 2),
                date=format_date(self.env, order.psa_effective_date),
                old_line=source.order_id.name,
                old_rate=format_amount(self.env, source.price_unit, source.currency_id),
                rate=format_amount(self.env, line.price_unit, line.currency_id),
                kept=len(step.staying),
                old_order=source.order_id.name,
                kept_qty=step.kept_qty,
                moved_qty=step.moved_qty,
            )
            body = Markup("<p>%s</p>") % note
            order.message_post(body=body)
            engagement.message_post(body=body)

    # Fixed-price decreases

    def _psa_get_decrease_milestones_domain(self):
        """Hook for extensions: the open milestones of the engagement a fixed-price decrease may reduce.

        Milestones not reached are neither delivered nor invoiced: their value is still open."""
        self.ensure_one()
        return [
            ("project_id", "=", self.order_id.psa_engagement_project_id.id),
            ("is_reached", "=", False),
            ("sale_line_id.state", "=", "sale"),
            ("sale_line_id.product_id", "=", self.product_id.id),
        ]

    def _psa_plan_fixed_price_decrease(self):
        """Compute, without writing, the new value of the open milestones (latest due first) and the new
        planned hours of their open tasks (in the same proportion, never below the hours spent).

        :raise UserError: when the decrease exceeds the value still open"""
        plan = []
        for line in self._psa_fixed_price_decrease_lines():
            milestones = (
                self.env["project.milestone"]
                .sudo()
                .search(line._psa_get_decrease_milestones_domain(), order="deadline desc, id desc")
            )
            values = {
                milestone: round(milestone.product_uom_qty * milestone.sale_line_id.price_reduce_taxexcl, 2)
                for milestone in milestones
            }
            amount = -line.price_subtotal
            new_values, shortfall = scope.distribute_decrease(
                amount, [scope.OpenTask(milestone, value, 0.0) for milestone, value in values.items()]
            )
            if shortfall:
                raise UserError(
                    self.env._(
                        "%(order)s cannot take %(amount)s off %(product)s on %(project)s: only %(open)s is still open "
                        "in milestones not reached (rule: a decrease never touches reached or invoiced milestones).",
                        order=line.order_id.name,
                        amount=format_amount(self.env, amount, line.currency_id),
                        product=line.product_id.display_name,
                        project=line.order_id.psa_engagement_project_id.display_name,
                        open=format_amount(self.env, sum(values.values()), line.currency_id),
                    )
                )
            tasks = {}
            for milestone, new_value in new_values.items():
                ratio = new_value / values[milestone] if values[milestone] else 0.0
                for task in milestone.task_ids.filtered(lambda task: not task.is_closed and task.allocated_hours > 0):
                    allocated = round(max(task.allocated_hours * ratio, task.effective_hours, 0.0), 2)
                    if float_compare(allocated, task.allocated_hours, precision_digits=2) < 0:
                        tasks[task] = allocated
            plan.append(
                FixedPricePlan(
                    line, {milestone: (values[milestone], value) for milestone, value in new_values.items()}, tasks
                )
            )
        return plan

    def _psa_apply_fixed_price_decrease(self, plan):
        """Write the milestone values and planned hours computed by ``_psa_plan_fixed_price_decrease`` and say
        why on the order, the project and each task."""
        for step in plan:
            order = step.line.order_id
            for milestone, (_before, after) in step.milestones.items():
                price = milestone.sale_line_id.price_reduce_taxexcl
                milestone.product_uom_qty = after / price if price else 0.0
                milestone.psa_price_share = milestone.quantity_percentage * 100
            step.line._psa_reduce_task_hours(step.tasks, self.env._("fixed-price decrease %(order)s", order=order.name))
            body = Markup("<p>%s</p>") % step.line._psa_describe_fixed_price_decrease(step)
            order.message_post(body=body)
            order.psa_engagement_project_id.sudo().message_post(body=body)

    def _psa_describe_fixed_price_decrease(self, step):
        self.ensure_one()
        currency = self.currency_id
        return self.env._(
            "Fixed-price decrease %(order)s took %(amount)s off %(product)s: %(milestones)s.",
            order=self.order_id.name,
            amount=format_amount(self.env, -self.price_subtotal, currency),
            product=self.product_id.display_name,
            milestones=", ".join(
                self.env._(
                    "%(milestone)s from %(before)s to %(after)s",
                    milestone=milestone.name,
                    before=format_amount(self.env, before, currency),
                    after=format_amount(self.env, after, currency),
                )
                for milestone, (before, after) in step.milestones.items()
            ),
        )

    # Scope changes on the running agreement (OCA product_contract)

    def _psa_is_agreement_scope_change(self):
        """Hook for extensions: whether this recurring line changes the quantity of the agreement line it
        replaces (``contract_line_id``) instead of adding a line of its own."""
        self.ensure_one()
        return bool(self.contract_line_id) and self.order_id.psa_order_kind in AGREEMENT_SCOPE_KINDS

    def _get_contract_line_qty(self):
        """A scope change orders the difference: the successor line carries the running quantity plus it."""
        if self._psa_is_agreement_scope_change():
            replaced = self.contract_line_id.sudo()
            change = self.product_uom._compute_quantity(self.product_uom_qty, replaced.uom_id, raise_if_failure=False)
            return replaced.quantity + change
        return super()._get_contract_line_qty()

    def _psa_describe_agreement_scope_change(self):
        self.ensure_one()
        replaced = self.contract_line_id.sudo()
        return self.env._(
            "%(product)s on agreement %(agreement)s goes from %(before)s to %(after)s from %(date)s.",
            product=self.product_id.display_name,
            agreement=replaced.contract_id.display_name,
            before=replaced.quantity,
            after=self._get_contract_line_qty(),
            date=format_date(self.env, self.date_start),
        )

    def create_contract_line(self, contract):
        """A scope decrease down to nothing stops the running agreement line without a successor."""
        ending = self.filtered(
            lambda line: line._psa_is_agreement_scope_change()
            and float_is_zero(line._get_contract_line_qty(), precision_rounding=line.product_uom.rounding)
        )
        for line in ending:
            line.contract_line_id.stop(line.date_start - relativedelta(days=1))
        return super(SaleOrderLine, self - ending).create_contract_line(contract)

    @api.constrains("contract_id")
    def _check_contract_sale_partner(self):
        """Replaces OCA product_contract's check: a contact of the customer may order on the customer's
        agreement; the commercial entities must match."""
        for line in self.sudo().filtered("contract_id"):
            if line.order_id.partner_id.commercial_partner_id != line.contract_id.partner_id.commercial_partner_id:
                raise ValidationError(
                    self.env._(
                        "Order %(order)s is for %(customer)s but agreement %(agreement)s belongs to %(owner)s.",
                        order=line.order_id.name,
                        customer=line.order_id.partner_id.commercial_partner_id.display_name,
                        agreement=line.contract_id.display_name,
                        owner=line.contract_id.partner_id.commercial_partner_id.display_name,
                    )
                )
