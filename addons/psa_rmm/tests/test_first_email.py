from odoo.tests import tagged

from odoo.addons.base.tests.common import BaseCommon

from ..tools import contacts

MAIL = """Return-Path: <{email}>
To: helpdesk@northwind.example
From: {sender}
Subject: {subject}
Message-ID: <{msgid}@mail.example>
Date: Mon, 23 Nov 2026 09:00:00 +0000
Content-Type: text/plain; charset=utf-8

{body}
"""


@tagged("post_install", "-at_install")
class TestFirstEmail(BaseCommon):
    """An unknown sender writing to the helpdesk becomes a contact of the customer whose domain matches
    (never for free-mail domains), with a portal user when that customer allows it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.open_customer = cls.env["res.partner"].create(
            {
                "name": "Portal-friendly Ltd",
                "is_company": True,
                "email": "office@friendly.example",
                "psa_portal_on_first_email": True,
            }
        )
        cls.closed_customer = cls.env["res.partner"].create(
            {"name": "Reserved Inc", "is_company": True, "psa_email_domains": "reserved.example, reserved.test"}
        )

    def _receive(self, sender, subject="Printer is offline", msgid="m1"):
        email = sender[sender.index("<") + 1 : -1] if "<" in sender else sender
        ticket_id = self.env["mail.thread"].message_process(
            "helpdesk.ticket",
            MAIL.format(email=email, sender=sender, subject=subject, msgid=msgid, body="Please help."),
        )
        return self.env["helpdesk.ticket"].browse(ticket_id)

    def _notes(self, ticket):
        return " ".join(ticket.message_ids.mapped(lambda m: str(m.body)))

    def test_sender_of_portal_customer_gets_contact_and_portal_user(self):
        ticket = self._receive('"Ann Friendly" <ann@Friendly.example>')
        contact = ticket.partner_id
        self.assertEqual(
            (contact.name, contact.email, contact.parent_id),
            ("Ann Friendly", "ann@friendly.example", self.open_customer),
        )
        self.assertEqual(ticket.message_ids.filtered(lambda m: m.message_type == "email").author_id, contact)
        user = contact.user_ids
        self.assertEqual(len(user), 1)
        self.assertTrue(user.share, "a portal user, not an internal one")
        self.assertIn(contact, ticket.message_partner_ids)
        self.assertIn("Portal user invited", self._notes(ticket))
        # the new portal user sees their own ticket
        self.assertEqual(self.env["helpdesk.ticket"].with_user(user).search([("id", "=", ticket.id)]), ticket)

    def test_sender_of_declared_domain_gets_contact_only(self):
        ticket = self._receive("bob@reserved.test", msgid="m2")
        self.assertEqual(ticket.partner_id.parent_id, self.closed_customer)
        self.assertFalse(ticket.partner_id.user_ids)
        self.assertIn("reserved.test belongs to the customer", self._notes(ticket))

    def test_free_mail_and_unknown_domains_are_never_attached(self):
        # a customer that (wrongly) claims gmail.com must not collect every gmail sender
        self.closed_customer.psa_email_domains = "reserved.example, gmail.com"
        free = self._receive("carol@gmail.com", msgid="m3")
        self.assertTrue(free.partner_id)
        self.assertFalse(free.partner_id.parent_id)
        self.assertFalse(free.partner_id.user_ids)
        self.assertIn("free-mail", self._notes(free))
        unknown = self._receive("dave@elsewhere.example", msgid="m4")
        self.assertFalse(unknown.partner_id.parent_id)
        self.assertIn("no customer uses the domain elsewhere.example", self._notes(unknown))

    def test_known_sender_is_not_duplicated(self):
        known = self.env["res.partner"].create({"name": "Known", "email": "known@friendly.example"})
        ticket = self._receive("known@friendly.example", msgid="m5")
        self.assertEqual(ticket.partner_id, known)
        self.assertEqual(self.env["res.partner"].search_count([("email", "=", "known@friendly.example")]), 1)
        self.assertFalse(known.user_ids)

    def test_domain_matching_rules(self):
        companies = [
            (1, {"contoso.com"}),
            (2, {"fabrikam.com", "fabrikam.de"}),
            (3, {"shared.com"}),
            (4, {"shared.com"}),
        ]
        self.assertEqual(contacts.match_company("Ann <ann@Contoso.COM>", companies)[0], 1)
        self.assertEqual(contacts.match_company("x@fabrikam.de", companies)[0], 2)
        self.assertIsNone(contacts.match_company("x@shared.com", companies)[0])
        self.assertIsNone(contacts.match_company("x@outlook.com", [(5, {"outlook.com"})])[0])
        self.assertIsNone(contacts.match_company("x@contoso.com", companies, extra_free=["contoso.com"])[0])
        self.assertIsNone(contacts.match_company("not-an-address", companies)[0])
        self.assertEqual(
            contacts.company_domains("info@Acme.io", " acme.de, @acme.fr "), {"acme.io", "acme.de", "acme.fr"}
        )
