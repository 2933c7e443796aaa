from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import float_compare

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

    @api.constrains("sale_line_id", "quantity_percentage", "product_uom_qty")
    def _check_psa_shares_of_line(self):
        """The milestones of one order line never deliver more than all of it, on any path (a person,
        a template, Odoo's default milestone, an import): reaching them all would bill more than sold."""
        lines = self.sale_line_id
        if not lines or self.env.context.get("psa_defer_share_check"):
            return
        totals = self.env["project.milestone"]._read_group(
            [("sale_line_id", "in", lines.ids)], ["sale_line_id"], ["quantity_percentage:sum"]
        )
        for line, total in totals:
            if float_compare(total, 1.0, precision_digits=4) > 0:
                milestones = self.env["project.milestone"].search([("sale_line_id", "=", line.id)], order="id")
                raise ValidationError(
                    self.env._(
                        "The milestones of %(line)s would deliver %(total)s%% of it (%(milestones)s): the shares of "
                        "one order line cannot exceed 100%%. Lower a share or link a milestone to another line.",
                        line=line.display_name,
                        total=round(total * 100, 2),
                        milestones=", ".join(
                            f"{milestone.name} {round(milestone.quantity_percentage * 100, 2)}%"
                            for milestone in milestones
                        ),
                    )
                )
