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
        "security/ir.model.access.csv",
        "security/psa_payments_security.xml",
        "data/psa_payments_data.xml",
        "data/psa_payments_cron.xml",
        "data/psa_payments_mail_template.xml",
        "views/psa_payment_attempt_views.xml",
        "views/psa_payment_mandate_views.xml",
        "views/account_move_views.xml",
        "views/psa_payments_menus.xml",
    ],
    "demo": [
        "demo/psa_payments_demo.xml",
    ],
}
