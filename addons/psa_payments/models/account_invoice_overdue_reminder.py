from odoo import fields, models


class AccountInvoiceOverdueReminder(models.Model):
    _inherit = "account.invoice.overdue.reminder"

    psa_level = fields.Integer(
        string="Automatic level",
        readonly=True,
        help="The level of the company's reminder schedule this automatic reminder sent (empty: sent by hand).",
    )

    # Reminders sent by hand (OCA wizard) leave psa_level empty: PostgreSQL treats NULLs as distinct.
    _sql_constraints = [
        (
            "psa_level_once_per_invoice",
            "UNIQUE(invoice_id, psa_level)",
            "An invoice gets each automatic reminder level once.",
        ),
    ]
