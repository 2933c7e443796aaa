from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..tools import reminders


class ResCompany(models.Model):
    _inherit = "res.company"

    psa_reminder_days = fields.Char(
        string="Overdue reminder days",
        default=reminders.DEFAULT_LEVEL_DAYS,
        help="Days after the due date on which overdue reminders go out, one level each, e.g. 3,10,30. "
        "Empty: this company sends no automatic reminders.",
    )

    psa_autopay_terms = fields.Text(
        string="Auto-pay mandate terms",
        translate=True,
        help="What customers accept when they enrol in auto-pay from the portal. Empty: no portal enrolment.",
    )
    psa_autopay_max_amount = fields.Monetary(
        string="Portal auto-pay maximum per invoice",
        currency_field="currency_id",
        help="The maximum per invoice of a mandate a customer creates in the portal (0: no maximum).",
    )
    psa_autopay_hold_days = fields.Integer(
        string="Portal auto-pay hold (days)",
        default=0,
        help="The hold of a mandate a customer creates in the portal: days after the invoice date before a charge.",
    )

    @api.constrains("psa_reminder_days")
    def _check_psa_reminder_days(self):
        for company in self:
            try:
                reminders.parse_level_days(company.psa_reminder_days)
            except ValueError:
                raise ValidationError(
                    self.env._(
                        "Overdue reminder days of %(company)s must be ascending whole days after the due date, "
                        "separated by commas (e.g. 3,10,30), not %(value)s.",
                        company=company.name,
                        value=company.psa_reminder_days,
                    )
                ) from None

    def _psa_reminder_level_days(self):
        """The company's reminder schedule as a tuple of days (validated on write)."""
        self.ensure_one()
        return reminders.parse_level_days(self.psa_reminder_days)
