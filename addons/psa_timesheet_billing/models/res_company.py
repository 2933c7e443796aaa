from odoo import fields, models

from .psa_billing_run import BILLING_CADENCES


class ResCompany(models.Model):
    _inherit = "res.company"

    psa_billing_run_frequency = fields.Selection(
        BILLING_CADENCES,
        string="Billing Run Frequency",
        required=True,
        default="monthly",
        help="The billing cadence of the customers (and agreements) without one of their own. "
        "Monthly: a run up to the last day of the previous month is created on the 1st. "
        "Weekly: a run up to the previous Sunday is created every Monday. "
        "As you go: what is released is billed by the next hourly as-you-go run, one invoice per customer and day.",
    )
    psa_intercompany_rate = fields.Monetary(
        string="Intercompany Hourly Rate",
        currency_field="currency_id",
        help="Rate at which this company's billing run bills the time its employees log on other companies' "
        "projects. Empty: the employee's hourly cost.",
    )
    psa_billing_run_send_invoices = fields.Boolean(
        string="Send Invoices of Automatic Runs",
        help="The billing runs the monthly and weekly crons create send the invoices they post by email "
        "(in the background). Off: the invoices are posted and left for someone to send.",
    )
    psa_billing_zero_total = fields.Selection(
        [("keep", "Keep for the next invoice with something to pay"), ("skip", "Skip the 0.00 lines")],
        string="Invoices of 0.00",
        required=True,
        default="keep",
        help="A billing run never posts or sends an invoice whose total is 0.00. Keep: its lines wait (said in "
        "the run) and go on the customer's next invoice with something to pay. Skip: lines of 0.00 are never "
        "invoiced, each run lists them as skipped with the reason.",
    )
    psa_finance_user_id = fields.Many2one(
        "res.users",
        string="Finance Lead",
        domain="[('share', '=', False)]",
        help="Gets an activity for every billing run previewed and waiting for confirmation. Empty: the person "
        "who created the run.",
    )
    psa_prepaid_topup = fields.Boolean(
        string="Raise Top-up Quotations",
        help="Default of new prepaid funds: a low balance raises a draft top-up quotation for the customer.",
    )
