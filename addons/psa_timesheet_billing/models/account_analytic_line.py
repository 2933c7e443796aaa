from odoo import api, fields, models
from odoo.exceptions import UserError

APPROVAL_STATES = [
    ("to_approve", "To Approve"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("invoiced", "Invoiced"),
]
# Once approved (released for billing) a time entry is locked: these fields drive what is billed.
LOCKED_STATES = {"approved", "invoiced"}


class AccountAnalyticLine(models.Model):
    _inherit = "account.analytic.line"

    psa_approval_state = fields.Selection(
        APPROVAL_STATES,
        string="Approval",
        default="to_approve",
        index=True,
        copy=False,
        help="Only approved time is released for billing.",
    )
    psa_approved_by_id = fields.Many2one("res.users", string="Approved By", readonly=True, copy=False)
    psa_approval_date = fields.Datetime(string="Approved On", readonly=True, copy=False)
    psa_approval_reason = fields.Char(
        string="Approval Reason",
        readonly=True,
        copy=False,
        help="Why this entry was approved or rejected, by a person or by a rule.",
    )

    @api.model
    def _psa_locked_fields(self):
        """Hook for extensions: fields that may not change once a time entry is approved."""
        return {
            "unit_amount",
            "amount",
            "date",
            "employee_id",
            "user_id",
            "project_id",
            "task_id",
            "so_line",
            "name",
        }

    def _psa_check_unlocked(self, fields_changed=None):
        locked = self.filtered(lambda line: line.project_id and line.psa_approval_state in LOCKED_STATES)
        if not locked:
            return
        if fields_changed is not None and not (set(fields_changed) & self._psa_locked_fields()):
            return
        states = dict(APPROVAL_STATES)
        line = locked[0]
        raise UserError(
            self.env._(
                'Time entry "%(entry)s" of %(employee)s on %(date)s is %(state)s (%(reason)s): '
                "it can no longer be changed or deleted. Ask a manager to reset it to To Approve.",
                entry=line.name or "/",
                employee=line.employee_id.name,
                date=line.date,
                state=states[line.psa_approval_state].lower(),
                reason=line.psa_approval_reason or "no reason recorded",
            )
        )

    def write(self, vals):
        if not self.env.context.get("psa_approval_write"):
            self._psa_check_unlocked(vals.keys())
            if "psa_approval_state" in vals:
                raise UserError(self.env._("Use the Approve, Reject or Reset actions to change an approval."))
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_psa_approved(self):
        self._psa_check_unlocked()

    def _psa_set_approval(self, state, reason):
        """Move the lines to ``state`` in one write, recording who and why."""
        return self.with_context(psa_approval_write=True).write(
            {
                "psa_approval_state": state,
                "psa_approved_by_id": self.env.user.id if state == "approved" else False,
                "psa_approval_date": fields.Datetime.now() if state == "approved" else False,
                "psa_approval_reason": reason,
            }
        )

    def _psa_check_approver(self):
        if not self.env.user.has_group("hr_timesheet.group_timesheet_manager"):
            raise UserError(self.env._("Only timesheet managers can approve, reject or reset time entries."))

    def action_psa_approve(self, reason=None):
        self._psa_check_approver()
        to_approve = self.filtered(lambda line: line.psa_approval_state in ("to_approve", "rejected"))
        if self - to_approve:
            raise UserError(
                self.env._(
                    "%(count)s of the selected entries are already approved or invoiced.", count=len(self - to_approve)
                )
            )
        return to_approve._psa_set_approval(
            "approved", reason or self.env._("approved by %(user)s", user=self.env.user.name)
        )

    def action_psa_reject(self, reason):
        self._psa_check_approver()
        if not reason:
            raise UserError(self.env._("Say why the time is rejected: the employee sees the reason."))
        if self.filtered(lambda line: line.psa_approval_state == "invoiced"):
            raise UserError(self.env._("Invoiced time cannot be rejected: issue a credit note instead."))
        return self._psa_set_approval("rejected", reason)

    def action_psa_reset(self):
        self._psa_check_approver()
        if self.filtered(lambda line: line.psa_approval_state == "invoiced"):
            raise UserError(self.env._("Invoiced time cannot be reset: issue a credit note instead."))
        return self._psa_set_approval("to_approve", self.env._("reset by %(user)s", user=self.env.user.name))
