from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..tools.offsets import parse_offset


class ProjectTask(models.Model):
    _inherit = "project.task"

    psa_offset = fields.Char(
        string="Planned Offset",
        help="On a project template: when the task is due, counted from the order's start date, e.g. " '"+14 days".',
    )

    @api.constrains("psa_offset")
    def _check_psa_offset(self):
        for task in self:
            if task.psa_offset and parse_offset(task.psa_offset) is None:
                raise ValidationError(
                    self.env._(
                        'Task %(task)s: "%(offset)s" is not an offset such as "+14 days", "+2 weeks" or "+1 month".',
                        task=task.name,
                        offset=task.psa_offset,
                    )
                )
