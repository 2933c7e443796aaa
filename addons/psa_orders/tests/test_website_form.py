from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestWebsiteForm(HttpCase):
    """Odoo website forms (core website_crm) create leads."""

    def test_contact_form_post_creates_a_lead(self):
        response = self.url_open(
            "/website/form/crm.lead",
            data={
                "contact_name": "Jane Visitor",
                "email_from": "jane@visitor.example.com",
                "name": "Website enquiry: managed support",
                "description": "We have 20 laptops to manage.",
            },
        )
        self.assertEqual(response.status_code, 200)
        lead = self.env["crm.lead"].browse(response.json()["id"])
        self.assertTrue(lead.exists())
        self.assertEqual(lead.email_from, "jane@visitor.example.com")
        self.assertEqual(lead.contact_name, "Jane Visitor")
        self.assertIn("20 laptops", lead.description)
