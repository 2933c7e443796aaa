from freezegun import freeze_time

from odoo.tests import new_test_user, tagged

from odoo.addons.base.tests.common import BaseCommon


@tagged("post_install", "-at_install")
class TestDormantTickets(BaseCommon):
    """Tickets waiting on the customer get a warning after 3 days and close after 7, unless the customer
    replies (OCA helpdesk_ticket_close_inactive, extended so a reply restarts the clock and the warning
    leaves a note)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agent = new_test_user(cls.env, login="psa_dormant_agent", groups="helpdesk_mgmt.group_helpdesk_user")
        cls.awaiting = cls.env.ref("helpdesk_mgmt.helpdesk_ticket_stage_awaiting")
        cls.in_progress = cls.env.ref("helpdesk_mgmt.helpdesk_ticket_stage_in_progress")
        cls.done = cls.env.ref("helpdesk_mgmt.helpdesk_ticket_stage_done")
        cls.team = cls.env["helpdesk.ticket.team"].create(
            {
                "name": "Dormant desk",
                "close_inactive_tickets": True,
                "ticket_stage_ids": [(6, 0, cls.awaiting.ids)],
                "inactive_tickets_day_limit_warning": 3,
                "inactive_tickets_day_limit_closing": 7,
                "closing_ticket_stage": cls.done.id,
                "psa_reply_stage_id": cls.in_progress.id,
                "user_ids": [(4, cls.agent.id)],
            }
        )
        cls.customer = cls.env["res.partner"].create({"name": "Quiet Customer", "is_company": True})
        cls.contact = cls.env["res.partner"].create(
            {"name": "Quiet Contact", "parent_id": cls.customer.id, "email": "quiet@quiet.example"}
        )

    def _waiting_ticket(self, name):
        ticket = (
            self.env["helpdesk.ticket"]
            .with_user(self.agent)
            .create({"name": name, "description": "Need info", "team_id": self.team.id, "partner_id": self.contact.id})
        )
        ticket.stage_id = self.awaiting
        return ticket

    def test_warning_then_close_unless_customer_replies(self):
        with freeze_time("2026-11-02 09:00:00"):
            silent = self._waiting_ticket("Silent customer")
            answered = self._waiting_ticket("Customer answers")
        with freeze_time("2026-11-05 06:00:00"):
            result = self.team.close_team_inactive_tickets()
        warned = self.env["mail.mail"].browse(result["warning_email_ids"])
        self.assertEqual(set(warned.mapped("res_id")), {silent.id, answered.id})
        self.assertTrue(any("closes in 4 days" in (m.body or "") for m in silent.message_ids))
        with freeze_time("2026-11-06 10:00:00"):
            answered.message_post(body="Here is the log you asked for", author_id=self.contact.id, message_type="email")
        self.assertEqual(answered.stage_id, self.in_progress)
        self.assertTrue(any("clock restarts" in (m.body or "") for m in answered.message_ids))
        with freeze_time("2026-11-09 10:00:00"):
            self.team.close_team_inactive_tickets()
        self.assertTrue(silent.closed)
        self.assertEqual(silent.stage_id, self.done)
        self.assertFalse(answered.closed)

    def test_reply_restarts_the_clock_without_reply_stage(self):
        self.team.psa_reply_stage_id = False
        with freeze_time("2026-11-02 09:00:00"):
            ticket = self._waiting_ticket("Waiting")
        with freeze_time("2026-11-08 09:00:00"):
            ticket.message_post(body="Still looking", author_id=self.contact.id, message_type="email")
        self.assertEqual(ticket.stage_id, self.awaiting)
        with freeze_time("2026-11-10 06:00:00"):
            self.team.close_team_inactive_tickets()
        self.assertFalse(ticket.closed, "7 days have not passed since the customer's reply")
        with freeze_time("2026-11-16 06:00:00"):
            self.team.close_team_inactive_tickets()
        self.assertTrue(ticket.closed)

    def test_staff_note_does_not_count_as_customer_reply(self):
        with freeze_time("2026-11-02 09:00:00"):
            ticket = self._waiting_ticket("Staff only")
        with freeze_time("2026-11-04 09:00:00"):
            ticket.with_user(self.agent).message_post(body="Chased by phone", message_type="comment")
        self.assertEqual(ticket.stage_id, self.awaiting)
        with freeze_time("2026-11-09 10:00:00"):
            self.team.close_team_inactive_tickets()
        self.assertTrue(ticket.closed)

    def test_missed_cron_still_warns_once_per_waiting_period(self):
        """The warning goes out N days or more after the ticket started waiting, once per waiting period: a
        cron missed on day N still warns the next day, reruns send nothing, a new waiting period warns again."""
        with freeze_time("2026-11-02 09:00:00"):
            ticket = self._waiting_ticket("Missed cron")
        sent = []
        with freeze_time("2026-11-04 06:00:00"):
            self.assertFalse(self.team.close_team_inactive_tickets()["warning_email_ids"], "2 days: too early")
        # no cron run on the 5th (day N): the run of the 6th warns, its rerun and the next day's do not
        for moment in ("2026-11-06 06:00:00", "2026-11-06 18:00:00", "2026-11-07 06:00:00"):
            with freeze_time(moment):
                sent.append(self.team.close_team_inactive_tickets()["warning_email_ids"])
        self.assertEqual(self.env["mail.mail"].browse(sent[0]).mapped("res_id"), [ticket.id])
        self.assertEqual(sent[1:], [[], []])
        self.assertTrue(any("closes in 3 days" in (m.body or "") for m in ticket.message_ids))
        self.assertEqual(str(ticket.psa_inactivity_warned_at), "2026-11-06 06:00:00")
        # the customer answers, the agent asks again: a new waiting period, warned again after 3 days
        with freeze_time("2026-11-07 10:00:00"):
            ticket.message_post(body="Which log?", author_id=self.contact.id, message_type="email")
        with freeze_time("2026-11-07 12:00:00"):
            ticket.with_user(self.agent).stage_id = self.awaiting
        with freeze_time("2026-11-09 06:00:00"):
            self.assertFalse(self.team.close_team_inactive_tickets()["warning_email_ids"])
        with freeze_time("2026-11-10 06:00:00"):
            self.assertEqual(
                self.env["mail.mail"].browse(self.team.close_team_inactive_tickets()["warning_email_ids"]).res_id,
                ticket.id,
            )
        with freeze_time("2026-11-13 06:00:00"):
            self.team.close_team_inactive_tickets()
        self.assertFalse(ticket.closed, "7 days have not passed since the ticket went back to waiting")
        with freeze_time("2026-11-14 13:00:00"):
            self.team.close_team_inactive_tickets()
        self.assertTrue(ticket.closed)

    def test_ticket_due_to_close_is_closed_not_warned(self):
        with freeze_time("2026-11-02 09:00:00"):
            ticket = self._waiting_ticket("Forgotten")
        with freeze_time("2026-11-12 10:00:00"):
            result = self.team.close_team_inactive_tickets()
        self.assertFalse(result["warning_email_ids"])
        self.assertTrue(ticket.closed)
