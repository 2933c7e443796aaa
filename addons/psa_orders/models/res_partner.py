from odoo import fields, models

from ..tools.po_rules import POLICY_ABOVE, POLICY_ALWAYS, POLICY_NEVER


class ResPartner(models.Model):
    _inherit = "res.partner"

    psa_po_policy = fields.Selection(
        [
            (POLICY_NEVER, "Never required"),
            (POLICY_ALWAYS, "Always required"),
            (POLICY_ABOVE, "Required above an amount"),
        ],
        string="Purchase Order Policy",
        default=POLICY_NEVER,
        groups="sales_team.group_sale_manager",
        help="Whether this customer's orders and invoices must carry its purchase order reference. "
        "Enforced when an order is confirmed (web client, portal signature, XML-RPC, crons) and when an "
        "invoice is posted.",
    )
    psa_po_threshold = fields.Float(
        string="PO Required Above",
        digits="Product Price",
        groups="sales_team.group_sale_manager",
        help="Untaxed amount, in the company currency, above which a purchase order reference is required.",
    )
    # Not commercial fields: syncing them to contacts would read them as users who may not see them;
    # the rules always read the commercial entity's values.
    psa_customer_po_ids = fields.One2many("psa.customer.po", "partner_id", string="Purchase Orders")
    psa_customer_po_count = fields.Integer(compute="_compute_psa_customer_po_count", string="Purchase Order Count")

    def _compute_psa_customer_po_count(self):
        counts = dict(
            self.env["psa.customer.po"]._read_group(
                [("partner_id", "in", self.commercial_partner_id.ids)], ["partner_id"], ["__count"]
            )
        )
        for partner in self:
            partner.psa_customer_po_count = counts.get(partner.commercial_partner_id, 0)

    def action_psa_view_customer_pos(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("psa_orders.action_psa_customer_po")
        customer = self.commercial_partner_id
        action["domain"] = [("partner_id", "=", customer.id)]
        action["context"] = {"default_partner_id": customer.id}
        return action
