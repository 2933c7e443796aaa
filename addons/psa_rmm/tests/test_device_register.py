from psycopg2 import IntegrityError

from odoo.exceptions import AccessError
from odoo.tests import Form, new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.base.tests.common import BaseCommon


@tagged("post_install", "-at_install")
class TestDeviceRegister(BaseCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agent = new_test_user(cls.env, login="psa_desk_agent", groups="helpdesk_mgmt.group_helpdesk_user")
        cls.employee = new_test_user(cls.env, login="psa_employee", groups="base.group_user")
        cls.customer = cls.env["res.partner"].create({"name": "Device Customer", "is_company": True})
        cls.other_company = cls.env["res.company"].create({"name": "Other MSP entity"})

    def _register(self, user, **values):
        with Form(self.env["psa.device"].with_user(user)) as form:
            form.name = values.get("name", "WS-01")
            form.partner_id = self.customer
            form.device_type = values.get("device_type", "workstation")
            form.rmm_source = "tacticalrmm"
            form.rmm_device_id = values.get("rmm_device_id", "agent-1")
        return form.record

    def test_agent_registers_and_customer_counts_devices(self):
        self._register(self.agent, name="WS-01", rmm_device_id="agent-1")
        self._register(self.agent, name="SRV-01", rmm_device_id="agent-2", device_type="server")
        self.assertEqual(self.customer.psa_device_count, 2)
        action = self.customer.action_psa_view_devices()
        self.assertEqual(self.env["psa.device"].search_count(action["domain"]), 2)

    def test_same_rmm_device_cannot_be_registered_twice(self):
        self._register(self.agent, rmm_device_id="agent-9")
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.env["psa.device"].create(
                {"name": "dup", "partner_id": self.customer.id, "rmm_source": "tacticalrmm", "rmm_device_id": "agent-9"}
            )

    def test_plain_employee_reads_but_cannot_register(self):
        device = self._register(self.agent)
        self.assertEqual(device.with_user(self.employee).name, "WS-01")
        with self.assertRaises(AccessError):
            self.env["psa.device"].with_user(self.employee).create({"name": "x", "partner_id": self.customer.id})

    def test_devices_of_another_company_are_invisible(self):
        self.env["psa.device"].create(
            {"name": "FOREIGN-01", "partner_id": self.customer.id, "company_id": self.other_company.id}
        )
        visible = self.env["psa.device"].with_user(self.agent).search([("name", "=", "FOREIGN-01")])
        self.assertFalse(visible)
