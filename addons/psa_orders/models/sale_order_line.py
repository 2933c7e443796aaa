from markupsafe import Markup

from odoo import models
from odoo.exceptions import UserError

from ..tools import scope

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
        return super(SaleOrderLine, lines)._timesheet_service_generation()

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
