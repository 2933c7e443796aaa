{
    "name": "PSA Payments",
    "summary": "Invoices collect themselves on their due date through Odoo's payment framework (Stripe first)",
    "version": "18.0.1.0.0",
    "category": "Accounting/Payment Providers",
    "website": "https://github.com/psa-suite/psa-odoo",
    "author": "PSA Suite contributors",
    "license": "AGPL-3",
    "depends": [
        "psa_timesheet_billing",
        "account_payment",
        "payment_stripe",
    ],
    "data": [
        "data/psa_payments_data.xml",
    ],
    "demo": [
        "demo/psa_payments_demo.xml",
    ],
}
