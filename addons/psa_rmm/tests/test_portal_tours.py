from freezegun import freeze_time

from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestPortalTours(HttpCase):
    """A customer's portal user reads the prepaid balance and the devices on a 390 px phone."""

    browser_size = "390x844"
    touch_enabled = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        customer = cls.env["res.partner"].create({"name": "Tour Dental", "is_company": True})
        contact = cls.env["res.partner"].create({"name": "Tina of Tour Dental", "parent_id": customer.id})
        new_test_user(cls.env, login="tour_portal", groups="base.group_portal", partner_id=contact.id)
        cls.env["psa.prepaid.fund"].create(
            {
                "name": "Tour: 20 support hours",
                "partner_id": customer.id,
                "initial_quantity": 20.0,
                "date_start": "2026-11-01",
            }
        )
        technician = new_test_user(cls.env, login="tour_tech", groups="hr_timesheet.group_hr_timesheet_user")
        manager = new_test_user(cls.env, login="tour_ts_manager", groups="hr_timesheet.group_timesheet_manager")
        cls.env["hr.employee"].create({"name": "Tour technician", "user_id": technician.id})
        project = cls.env["project.project"].create(
            {"name": "Tour Dental support", "partner_id": customer.id, "allow_timesheets": True}
        )
        with freeze_time("2026-11-23"):
            entry = (
                cls.env["account.analytic.line"]
                .with_user(technician)
                .create({"project_id": project.id, "name": "Patched the servers", "unit_amount": 3.5})
            )
            entry.with_user(manager).action_psa_approve()
        devices = cls.env["psa.device"].create(
            [
                {"name": "TOUR-FS01", "partner_id": customer.id, "device_type": "server", "rmm_device_id": "t-1"},
                {"name": "TOUR-WS01", "partner_id": customer.id, "rmm_device_id": "t-2"},
            ]
        )
        cls.env["helpdesk.ticket"].create(
            {
                "name": "Backup failed on TOUR-FS01",
                "description": "The nightly backup job failed.",
                "partner_id": customer.id,
                "psa_device_id": devices[0].id,
            }
        )

    def test_customer_reads_balance_and_devices_on_a_phone(self):
        self.start_tour("/my", "psa_portal_customer_mobile", login="tour_portal")
