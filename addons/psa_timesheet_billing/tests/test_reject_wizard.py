from odoo.exceptions import AccessError
from odoo.tests import Form, tagged

from .common import PsaTimesheetCommon


@tagged("post_install", "-at_install")
class TestTimesheetRejectWizard(PsaTimesheetCommon):
    """Rejecting from the approval list: one click, one reason for the selected entries."""

    def test_manager_rejects_from_the_list_with_a_reason(self):
        lines = self._log_time(2.0) | self._log_time(1.0, name="Coffee")
        wizard_form = Form(
            self.env["psa.timesheet.reject"]
            .with_user(self.manager)
            .with_context(active_model="account.analytic.line", active_ids=lines.ids)
        )
        wizard_form.reason = "log it on the support agreement"
        wizard_form.save().action_reject()
        self.assertEqual(lines.mapped("psa_approval_state"), ["rejected", "rejected"])
        self.assertEqual(lines.mapped("psa_approval_reason"), ["log it on the support agreement"] * 2)

    def test_consultant_cannot_use_the_reject_wizard(self):
        line = self._log_time()
        with self.assertRaises(AccessError):
            self.env["psa.timesheet.reject"].with_user(self.consultant).create(
                {"line_ids": [(6, 0, line.ids)], "reason": "no"}
            )
        self.assertEqual(line.psa_approval_state, "to_approve")
