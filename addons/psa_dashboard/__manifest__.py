{
    "name": "PSA Dashboard",
    "summary": "The PSA dashboard in the Dashboards app: work in progress, billing, cash, prepaid funds, service desk",
    "version": "18.0.1.0.0",
    "category": "Productivity/Dashboard",
    "website": "https://github.com/psa-suite/psa-odoo",
    "author": "PSA Suite contributors",
    "license": "AGPL-3",
    "depends": [
        "psa_timesheet_billing",
        "psa_payments",
        "psa_rmm",
        "spreadsheet_dashboard",
    ],
    "data": [
        "security/ir.model.access.csv",
        "security/psa_dashboard_security.xml",
        "data/psa_dashboard_data.xml",
    ],
    "demo": [
        "demo/psa_dashboard_demo.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "psa_dashboard/static/tests/tours/*.js",
        ],
    },
    "auto_install": True,
}
