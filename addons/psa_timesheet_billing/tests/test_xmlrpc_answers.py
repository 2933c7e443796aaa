import xmlrpc.client

from odoo import Command
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger


@tagged("post_install", "-at_install")
class TestOdooAnswersNone(HttpCase):
    """What docs/integration.md says of Odoo's own expense-report buttons: over XML-RPC they answer the fault
    "cannot marshal None", yet the work is saved; JSON-RPC carries their None. If Odoo changes this, the guide
    must change too."""

    def test_submit_expense_report_over_xmlrpc(self):
        user = new_test_user(
            self.env, login="psa_guide_expenses", password="psa_guide_expenses", groups="base.group_user"
        )
        employee = self.env["hr.employee"].create({"name": "Guide Expenses", "user_id": user.id})
        product = self.env["product.product"].create({"name": "Guide train", "can_be_expensed": True})
        sheets = self.env["hr.expense.sheet"]
        for name in ("xmlrpc", "jsonrpc"):
            expense = self.env["hr.expense"].create(
                {"name": name, "employee_id": employee.id, "product_id": product.id, "total_amount_currency": 80.0}
            )
            sheets |= sheets.create(
                {"name": name, "employee_id": employee.id, "expense_line_ids": [Command.set(expense.ids)]}
            )
        db, login = self.env.cr.dbname, user.login
        uid = self.xmlrpc_common.authenticate(db, login, login, {})
        with self.assertRaises(xmlrpc.client.Fault) as answer, mute_logger("odoo.http"):
            self.xmlrpc_object.execute_kw(db, uid, login, "hr.expense.sheet", "action_submit_sheet", [sheets[0].ids])
        self.assertIn("cannot marshal None", answer.exception.faultString)
        # On a live server the work is saved all the same: odoo/service/model.py commits before rpc.py marshals
        # the answer (the guide's run in tests/ shows it). Here the test cursor rolls the failed request back.
        response = self.make_jsonrpc_request(
            "/jsonrpc",
            {
                "service": "object",
                "method": "execute_kw",
                "args": [db, uid, login, "hr.expense.sheet", "action_submit_sheet", [sheets[1].ids], {}],
            },
        )
        self.assertIsNone(response)
        sheets.invalidate_recordset()
        self.assertEqual(sheets[1].state, "submit")
