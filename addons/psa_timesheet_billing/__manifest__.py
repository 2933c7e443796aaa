{
    "name": "PSA Timesheet Billing",
    "summary": "Time, milestones, prepaid funds, expenses and agreements become invoices by themselves",
    "version": "18.0.1.0.0",
    "category": "Services/Timesheets",
    "website": "https://github.com/psa-suite/psa-odoo",
    "author": "PSA Suite contributors",
    "license": "AGPL-3",
    "depends": [
        "psa_orders",
        "sale_timesheet",
        "sale_expense",
        "contract",
        "account_invoice_inter_company",
    ],
    "data": [
        "security/psa_timesheet_billing_security.xml",
        "views/account_analytic_line_views.xml",
        "security/ir.model.access.csv",
        "security/psa_billing_run_security.xml",
        "views/psa_billing_run_views.xml",
        "views/res_config_settings_views.xml",
        "data/psa_billing_run_cron.xml",
    ],
    "demo": [
        "demo/psa_timesheet_billing_demo.xml",
        "demo/psa_billing_run_demo.xml",
    ],
}
