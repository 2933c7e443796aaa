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
