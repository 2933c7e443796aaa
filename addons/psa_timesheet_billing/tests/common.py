from odoo.tests import new_test_user

from odoo.addons.base.tests.common import BaseCommon


class PsaTimesheetCommon(BaseCommon):
    """Fixtures: a billable project, a consultant (timesheet user) and a timesheet manager."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.consultant = new_test_user(cls.env, login="psa_consultant", groups="hr_timesheet.group_hr_timesheet_user")
        cls.manager = new_test_user(cls.env, login="psa_ts_manager", groups="hr_timesheet.group_timesheet_manager")
        cls.consultant_employee = cls.env["hr.employee"].create({"name": "Consultant", "user_id": cls.consultant.id})
        cls.customer = cls.env["res.partner"].create({"name": "Timesheet Customer", "is_company": True})
        cls.project = cls.env["project.project"].create(
            {"name": "Billable engagement", "partner_id": cls.customer.id, "allow_timesheets": True}
        )

    def _log_time(self, hours=2.0, name="Configured the firewall"):
        return (
            self.env["account.analytic.line"]
            .with_user(self.consultant)
            .create({"project_id": self.project.id, "name": name, "unit_amount": hours})
        )
