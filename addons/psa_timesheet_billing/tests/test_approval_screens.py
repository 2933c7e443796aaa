from freezegun import freeze_time
from lxml import etree

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import PsaTimesheetCommon
from .queue_job_helpers import run_auto_approval


def filter_groups(arch):
    """The groups the web client makes of a search view's filters: {filter name: group number}.

    Filters in one group combine with OR, filters of different groups with AND. Like the client's
    search arch parser, a separator, a field or a <group> closes the current group.
    """
    groups, number = {}, 0
    for node in etree.fromstring(arch).iter():
        if node.getparent() is not None and node.getparent().tag == "filter":
            continue  # a date filter's options
        if node.tag in ("separator", "field", "group"):
            number += 1
        elif node.tag == "filter" and "group_by" not in (node.get("context") or ""):
            groups[node.get("name")] = number
    return groups


@tagged("post_install", "-at_install")
@freeze_time("2026-11-23")
class TestApprovalScreens(PsaTimesheetCommon):
    """An approver opens Time to Approve, narrows it to what a rule held, reads why, approves in bulk."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["psa.approval.rule"].search([]).active = False
        cls.action = cls.env.ref("psa_timesheet_billing.action_psa_timesheets_to_approve")
        cls.Line = cls.env["account.analytic.line"]

    def _entry(self, hours, day="2026-11-20"):
        return self.Line.with_user(self.consultant).create(
            {"project_id": self.project.id, "name": "Switch stack upgrade", "unit_amount": hours, "date": day}
        )

    def _run(self, xmlid, lines, user):
        action = self.env.ref(xmlid).with_user(user)
        return action.with_context(active_model="account.analytic.line", active_ids=lines.ids).run()

    def test_held_by_a_rule_narrows_to_approve(self):
        search = self.Line.with_user(self.manager).get_view(self.action.search_view_id.id, "search")
        groups = filter_groups(search["arch"])
        self.assertNotEqual(
            groups["psa_to_approve"], groups["psa_refused_by_rule"], "both filters on at once must narrow (AND)"
        )
        self.assertNotEqual(groups["psa_to_approve"], groups["mine"], "To Approve must not widen My Timesheets")
        self.assertEqual(groups["psa_to_approve"], groups["psa_approved"], "the states are alternatives (OR)")

    def test_action_opens_the_approval_screens(self):
        action = (
            self.env["ir.actions.actions"]
            .with_user(self.manager)
            ._for_xml_id("psa_timesheet_billing.action_psa_timesheets_to_approve")
        )
        views = {mode: view_id for view_id, mode in action["views"]}
        self.assertEqual(list(views), ["list", "kanban", "form"], "Odoo mobile opens the kanban")
        result = self.Line.with_user(self.manager).get_views([(views["form"], "form"), (views["kanban"], "kanban")])
        for mode in ("form", "kanban"):
            arch = etree.fromstring(result["views"][mode]["arch"])
            shown = {node.get("name") for node in arch.iter("field", "button")}
            for name in ("employee_id", "task_id", "date", "unit_amount", "psa_approval_state", "psa_approval_reason"):
                self.assertIn(name, shown, f"{mode} shows {name}")
            self.assertIn("action_psa_approve", shown, f"{mode} has the Approve button")
        list_arch = etree.fromstring(self.Line.with_user(self.manager).get_view(views["list"], "list")["arch"])
        reason = list_arch.find(".//field[@name='psa_approval_reason']")
        self.assertFalse(reason.get("optional") == "hide" or reason.get("column_invisible"), "the reason is shown")

    def test_reason_starts_with_what_differs(self):
        self.env["psa.approval.rule"].create({"name": "8 h/day", "kind": "max_hours_day", "max_hours": 8.0})
        held = self._entry(9.0)
        run_auto_approval(self.env)
        self.assertTrue(held.psa_approval_reason.startswith("Over 8 h/day: 9 h on 11/20/2026"))

    def test_bulk_approve_from_the_action_menu(self):
        lines = self._entry(2.0) | self._entry(3.0, day="2026-11-19")
        result = self._run("psa_timesheet_billing.action_server_psa_timesheet_approve", lines, self.manager)
        self.assertEqual(lines.mapped("psa_approval_state"), ["approved", "approved"])
        self.assertEqual(lines.mapped("psa_approved_by_id"), self.manager)
        self.assertEqual(lines.mapped("psa_approval_reason"), [f"approved by {self.manager.name}"] * 2)
        self.assertIn("2 time entries approved", result["params"]["message"])

        # an entry approved already in the selection: nothing is approved, the approver is told
        more = self._entry(1.0)
        with self.assertRaisesRegex(UserError, "already approved"):
            self._run("psa_timesheet_billing.action_server_psa_timesheet_approve", more | lines, self.manager)
        self.assertEqual(more.psa_approval_state, "to_approve")

        with self.assertRaises(AccessError):
            self._run("psa_timesheet_billing.action_server_psa_timesheet_approve", more, self.consultant)
        self.assertEqual(more.psa_approval_state, "to_approve")

    def test_recheck_the_rules_now(self):
        self.env["psa.approval.rule"].create({"name": "8 h/day", "kind": "max_hours_day", "max_hours": 8.0})
        long_day, short_day = self._entry(9.0), self._entry(4.0, day="2026-11-19")
        result = self._run(
            "psa_timesheet_billing.action_server_psa_timesheet_check_rules", long_day | short_day, self.manager
        )
        self.assertEqual(short_day.psa_approval_state, "approved")
        self.assertEqual(short_day.psa_approval_reason, "approved automatically: passes 8 h/day")
        self.assertEqual(long_day.psa_approval_state, "to_approve")
        self.assertEqual(long_day.psa_approval_reason, "Over 8 h/day: 9 h on 11/20/2026 (rule 8 h/day)")
        self.assertIn("1 of 2 entries approved by the rules", result["params"]["message"])
