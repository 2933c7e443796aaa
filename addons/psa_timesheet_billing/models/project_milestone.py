import threading

from odoo import api, fields, models
from odoo.osv import expression
from odoo.tools import format_date

from odoo.addons.project.models.project_task import CLOSED_STATES


class ProjectMilestone(models.Model):
    _inherit = "project.milestone"

    psa_auto_release = fields.Boolean(
        string="Release Automatically",
        help="A daily job marks the milestone reached (and its share of the price invoiceable) by itself.",
    )
    psa_release_condition = fields.Selection(
        [("deadline", "On its deadline"), ("tasks_done", "When all its tasks are done")],
        string="Release",
        default="deadline",
        required=True,
    )
    psa_release_reason = fields.Char(
        string="Release Reason", readonly=True, copy=False, help="Why and when the milestone was marked reached."
    )

    @api.model
    def _get_due_release_domain(self):
        """Hook for extensions: milestones the daily job marks reached today."""
        today = fields.Date.context_today(self)
        waiting = [("is_reached", "=", False), ("psa_auto_release", "=", True)]
        on_deadline = [("psa_release_condition", "=", "deadline"), ("deadline", "!=", False), ("deadline", "<=", today)]
        tasks_done = [
            ("psa_release_condition", "=", "tasks_done"),
            ("task_ids", "!=", False),
            ("task_ids", "not any", [("state", "not in", list(CLOSED_STATES))]),
        ]
        return expression.AND([waiting, expression.OR([on_deadline, tasks_done])])

    @api.model
    def _cron_release_milestones(self, batch_size=500):
        """Mark the due milestones reached, with the reason on the milestone and a note on project and order."""
        milestone_ids = self.sudo().search(self._get_due_release_domain(), order="deadline, id").ids
        released = self.browse()
        for start in range(0, len(milestone_ids), batch_size):
            chunk = milestone_ids[start : start + batch_size]
            # a person ticking the milestone at the same time is never overridden nor noted twice
            self.env.cr.execute(
                "SELECT id FROM project_milestone WHERE id = ANY(%s) AND is_reached IS NOT TRUE FOR UPDATE SKIP LOCKED",
                (chunk,),
                log_exceptions=False,  # a concurrent tick fails this run (serialization): the next one skips it
            )
            milestones = self.sudo().browse([row[0] for row in self.env.cr.fetchall()])
            milestones._psa_release()
            released |= milestones
            self.env["ir.cron"]._notify_progress(
                done=start + len(chunk), remaining=len(milestone_ids) - start - len(chunk)
            )
            if not getattr(threading.current_thread(), "testing", False):
                self.env.cr.commit()  # pylint: disable=invalid-commit
        return released

    def _psa_release_reason(self):
        """Hook for extensions: the sentence that explains an automatic release."""
        self.ensure_one()
        today = format_date(self.env, self._psa_today())
        if self.psa_release_condition == "tasks_done":
            return self.env._("reached automatically on %(today)s: all its tasks are done", today=today)
        return self.env._(
            "reached automatically on %(today)s: planned for %(deadline)s",
            today=today,
            deadline=format_date(self.env, self.deadline),
        )

    def _psa_today(self):
        return fields.Date.context_today(self)

    def _psa_release(self):
        for milestone in self:
            milestone.write({"is_reached": True, "psa_release_reason": milestone._psa_release_reason()})
        for project in self.project_id:
            milestones = self.filtered(lambda m, project=project: m.project_id == project)
            body = self.env._(
                "Milestones released automatically: %(milestones)s",
                milestones=", ".join(f"{m.name} ({m.psa_release_reason})" for m in milestones),
            )
            project.message_post(body=body, subtype_xmlid="mail.mt_note")
            for order in milestones.sale_line_id.order_id:
                order.message_post(body=body, subtype_xmlid="mail.mt_note")

    def action_psa_release_due(self):
        """Release now, from the Action menu, the selected milestones the daily job would release today (same
        reason on the milestone, same note on project and order); the notification says why the others wait."""
        # sudo: the job's release (notes on the order too); the person may edit the milestones
        due = self.sudo().filtered_domain(self._get_due_release_domain())
        self.env.cr.execute(
            "SELECT id FROM project_milestone WHERE id = ANY(%s) AND is_reached IS NOT TRUE FOR UPDATE",
            (due.ids,),
        )
        due = due.browse([row[0] for row in self.env.cr.fetchall()])
        due._psa_release()
        waiting = self - due
        lines = [
            self.env._("%(milestone)s: %(reason)s", milestone=m.name, reason=m.psa_release_reason) for m in due
        ] + [
            self.env._("%(milestone)s: not released, %(reason)s", milestone=m.name, reason=m._psa_not_due_reason())
            for m in waiting
        ]
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("%(count)s of %(total)s milestones released", count=len(due), total=len(self)),
                "message": "\n".join(lines),
                "type": "success" if due and not waiting else "warning",
                "sticky": bool(waiting),
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def _psa_not_due_reason(self):
        """Why the daily job would not release this milestone today, in words."""
        self.ensure_one()
        if self.is_reached:
            return self.env._("already reached")
        if not self.psa_auto_release:
            return self.env._("it is not released automatically (tick Release Automatically, or mark it reached)")
        if self.psa_release_condition == "tasks_done":
            return self.env._("its tasks are not all done")
        if not self.deadline:
            return self.env._("it has no deadline")
        return self.env._("planned for %(deadline)s", deadline=format_date(self.env, self.deadline))
