from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import PsaTimesheetCommon


@tagged("post_install", "-at_install")
class TestTimesheetApproval(PsaTimesheetCommon):
    def test_new_time_waits_for_approval(self):
        line = self._log_time()
        self.assertEqual(line.psa_approval_state, "to_approve")
        self.assertFalse(line.psa_approved_by_id)

    def test_manager_approves_and_the_line_locks(self):
        """Approval records who and why; the consultant can then neither edit nor delete the line."""
        line = self._log_time(3.0)
        line.with_user(self.manager).action_psa_approve()
        self.assertEqual(line.psa_approval_state, "approved")
        self.assertEqual(line.psa_approved_by_id, self.manager)
        self.assertIn("approved by", line.psa_approval_reason)
        with self.assertRaisesRegex(UserError, "can no longer be changed"):
            line.with_user(self.consultant).write({"unit_amount": 5.0})
        with self.assertRaisesRegex(UserError, "can no longer be changed"):
            line.with_user(self.consultant).unlink()
        self.assertEqual(line.unit_amount, 3.0)

    def test_consultant_cannot_approve_own_time(self):
        line = self._log_time()
        with self.assertRaisesRegex(UserError, "Only timesheet managers"):
            line.with_user(self.consultant).action_psa_approve()
        with self.assertRaisesRegex(UserError, "Use the Approve"):
            line.with_user(self.consultant).write({"psa_approval_state": "approved"})
        self.assertEqual(line.psa_approval_state, "to_approve")

    def test_reject_needs_a_reason_and_allows_correction(self):
        line = self._log_time(9.5, name="")
        with self.assertRaisesRegex(UserError, "Say why"):
            line.with_user(self.manager).action_psa_reject("")
        line.with_user(self.manager).action_psa_reject("no description")
        self.assertEqual(line.psa_approval_state, "rejected")
        self.assertEqual(line.psa_approval_reason, "no description")
        # a rejected line is not locked: the consultant corrects it, then it can be approved
        line.with_user(self.consultant).write({"name": "Migrated the file server", "unit_amount": 8.0})
        line.with_user(self.manager).action_psa_approve()
        self.assertEqual(line.psa_approval_state, "approved")

    def test_approving_twice_is_refused(self):
        line = self._log_time()
        line.with_user(self.manager).action_psa_approve()
        with self.assertRaisesRegex(UserError, "already approved"):
            line.with_user(self.manager).action_psa_approve()
