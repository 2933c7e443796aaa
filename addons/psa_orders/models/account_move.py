from markupsafe import Markup

from odoo import fields, models

from ..tools import po_rules


class AccountMove(models.Model):
    _inherit = "account.move"

    def _psa_billed_po_references(self):
        """PO references of the orders each invoice bills, in order of appearance."""
        result = {}
        for move in self:
            references = []
            for order in move.invoice_line_ids.sale_line_ids.order_id:
                reference = (order.client_order_ref or "").strip()
                if reference and reference not in references:
                    references.append(reference)
            result[move] = references
        return result

    def _psa_complete_po_references(self):
        """Make every customer invoice carry the PO references of the orders it bills.

        Odoo copies the order's reference when it creates the invoice, but it can be edited or lost
        (invoice created by hand from order lines, merged invoices); the missing ones are appended."""
        for move, references in self._psa_billed_po_references().items():
            present = po_rules.split_references(move.ref)
            missing = [reference for reference in references if reference not in present]
            if not missing:
                continue
            move.ref = ", ".join(present + missing)
            move.message_post(
                body=Markup("<p>%s</p>")
                % self.env._(
                    "Purchase order reference completed automatically with %(references)s: the invoice bills "
                    "orders placed under it.",
                    references=", ".join(missing),
                )
            )

    def _psa_check_po_compliance(self):
        """Refuse to post a customer invoice that breaks its customer's purchase order policy."""
        invoices = self.filtered(lambda move: move.move_type == "out_invoice")
        checks = [
            {
                "document": invoice,
                "partner": invoice.commercial_partner_id,
                "company": invoice.company_id,
                "references": po_rules.split_references(invoice.ref),
                "amount": abs(invoice.amount_untaxed_signed),
                "date": invoice.invoice_date or fields.Date.context_today(invoice),
            }
            for invoice in invoices
        ]
        self.env["psa.customer.po"]._psa_check_documents(checks, invoices)

    def _post(self, soft=True):
        invoices = self.filtered(lambda move: move.move_type == "out_invoice")
        invoices._psa_complete_po_references()
        invoices._psa_check_po_compliance()
        return super()._post(soft=soft)
