from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..tools.offsets import parse_offset


class ProjectMilestone(models.Model):
    _inherit = "project.milestone"

    psa_offset = fields.Char(
        string="Planned Offset",
        help="On a project template: when the milestone is due, counted from the order's start date, e.g. "
        '"+14 days", "+2 weeks", "+1 month".',
    )
    psa_price_share = fields.Float(
        string="Share of Price (%)",
        digits=(5, 2),
        help="On a project template: the share of the order line's fixed price this milestone delivers "
        "when reached.",
    )

    @api.constrains("psa_offset", "psa_price_share")
    def _check_psa_plan(self):
        for milestone in self:
            if milestone.psa_offset and parse_offset(milestone.psa_offset) is None:
                raise ValidationError(
                    self.env._(
                        'Milestone %(milestone)s: "%(offset)s" is not an offset such as "+14 days", "+2 weeks" '
                        'or "+1 month".',
                        milestone=milestone.name,
                        offset=milestone.psa_offset,
                    )
                )
            if not 0 <= milestone.psa_price_share <= 100:
                raise ValidationError(
                    self.env._(
                        "Milestone %(milestone)s: its share of the price must be between 0 and 100%%.",
                        milestone=milestone.name,
                    )
                )
