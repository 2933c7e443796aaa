from odoo.tests import HttpCase, new_test_user, tagged

from .queue_job_helpers import run_auto_approval


@tagged("post_install", "-at_install")
class TestApprovalTours(HttpCase):
    """An approver (timesheet manager, nothing more) reads why an entry was held and approves, in a browser."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the tour's rule only: the database may hold other (demo) rules
        cls.env["psa.approval.rule"].search([]).active = False
        cls.approver = new_test_user(
            cls.env, login="tour_approver", name="Tour Approver", groups="hr_timesheet.group_timesheet_manager"
        )
        technician = new_test_user(
            cls.env, login="tour_technician", name="Tour Technician", groups="hr_timesheet.group_hr_timesheet_user"
        )
        cls.env["hr.employee"].create({"name": "Tour Technician", "user_id": technician.id})
        customer = cls.env["res.partner"].create({"name": "Tour Customer", "is_company": True})
        project = cls.env["project.project"].create(
            {"name": "Tour network refresh", "partner_id": customer.id, "allow_timesheets": True}
        )
        task = cls.env["project.task"].create({"name": "Core switch", "project_id": project.id})
        cls.env["psa.approval.rule"].create(
            {"name": "8 h/day", "kind": "max_hours_day", "max_hours": 8.0, "project_id": project.id}
        )
        other = cls.env["project.project"].create(
            {"name": "Tour network refresh (no rule)", "partner_id": customer.id, "allow_timesheets": True}
        )
        # old dates: first in the lists, whatever else waits in the database
        lines = cls.env["account.analytic.line"].with_user(technician)
        cls.held = lines.create(
            {
                "project_id": project.id,
                "task_id": task.id,
                "name": "Rack cabling",
                "unit_amount": 9.0,
                "date": "2020-01-06",
            }
        )
        cls.waiting = lines.create(
            {"project_id": other.id, "name": "Patch panel labels", "unit_amount": 2.0, "date": "2020-01-06"}
        )
        run_auto_approval(cls.env)

    def test_approver_desktop(self):
        self.assertTrue(self.held.psa_approval_reason.startswith("Over 8 h/day"))
        self.assertFalse(self.waiting.psa_approval_reason)
        self.start_tour(
            "/odoo/action-psa_timesheet_billing.action_psa_timesheets_to_approve",
            "psa_approver_desktop",
            login="tour_approver",
        )
        self.assertEqual((self.held | self.waiting).mapped("psa_approval_state"), ["approved", "approved"])
        self.assertEqual(self.held.psa_approved_by_id, self.approver)

    def test_approver_mobile(self):
        more = self.waiting.copy({"name": "Switch firmware", "date": "2020-01-07"})
        self.browser_size = "390x844"
        self.touch_enabled = True
        self.start_tour(
            "/odoo/action-psa_timesheet_billing.action_psa_timesheets_to_approve",
            "psa_approver_mobile",
            login="tour_approver",
        )
        self.assertEqual(self.held.psa_approval_state, "approved")
        # approved in bulk from the list's selection, on the phone
        self.assertEqual((self.waiting | more).mapped("psa_approval_state"), ["approved", "approved"])
        self.assertEqual(more.psa_approved_by_id, self.approver)
