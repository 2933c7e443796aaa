from datetime import datetime, time

from markupsafe import Markup

from odoo import fields, models
from odoo.exceptions import UserError

from ..tools import scope
from ..tools.offsets import apply_offset

PROJECT_TRACKINGS = ("task_in_project", "project_only")


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    def _psa_is_scope_decrease(self):
        """Hook for extensions: whether this line removes planned hours from its engagement instead of
        creating a task (a negative quantity of a project-tracked service on a scope-decrease order)."""
        self.ensure_one()
        return (
            self.order_id.psa_order_kind == "change_decrease"
            and bool(self.order_id.psa_engagement_project_id)
            and self.product_uom_qty < 0
            and self.product_id.service_tracking in PROJECT_TRACKINGS
        )

    def _psa_scope_decrease_lines(self):
        return self.filtered(lambda line: not line.display_type and line._psa_is_scope_decrease())

    def _timesheet_service_generation(self):
        """Lines of an order that changes an engagement land on that engagement's project: their tasks
        are created there and no new project is made. Scope decreases create nothing (see
        ``_psa_apply_scope_decrease``)."""
        decreases = self._psa_scope_decrease_lines()
        lines = self - decreases
        for line in lines:
            engagement = line.order_id._psa_get_engagement_project()
            if engagement and not line.project_id and line.product_id.service_tracking in PROJECT_TRACKINGS:
                line.project_id = engagement
                if not line.order_id.project_id:
                    line.order_id.project_id = engagement
                if line.product_id.project_template_id:
                    line._psa_add_template_to_project(engagement)
        return super(SaleOrderLine, lines)._timesheet_service_generation()

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
        for milestone in project.milestone_ids:
            if milestone.sale_line_id == self and milestone.psa_price_share:
                milestone.product_uom_qty = self.product_uom_qty * milestone.psa_price_share / 100
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
            for task, allocated in new_allocated.items():
                before = task.allocated_hours
                task.allocated_hours = allocated
                task.message_post(
                    body=Markup("<p>%s</p>")
                    % self.env._(
                        "Planned hours reduced from %(before)s to %(after)s by scope decrease %(order)s.",
                        before=before,
                        after=allocated,
                        order=line.order_id.name,
                    )
                )
            line.order_id.message_post(
                body=Markup("<p>%s</p>")
                % self.env._(
                    "Scope decrease applied: %(hours)s hours of %(product)s removed from %(tasks)s.",
                    hours=-line.product_uom_qty,
                    product=line.product_id.display_name,
                    tasks=", ".join(task.name for task in new_allocated),
                )
            )
