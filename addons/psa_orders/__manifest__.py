{
    "name": "PSA Orders",
    "summary": "Every financial commitment is an order: engagements, change orders, rate changes, work orders",
    "version": "18.0.1.0.0",
    "category": "Services/Project",
    "website": "https://github.com/psa-suite/psa-odoo",
    "author": "PSA Suite contributors",
    "license": "AGPL-3",
    "depends": [
        "sale_project",
        "sale_timesheet",
        "sale_crm",
        "product_contract",
        "website_crm",
    ],
    "data": [
        "security/psa_orders_security.xml",
        "security/ir.model.access.csv",
        "data/psa_orders_cron.xml",
        "views/psa_customer_po_views.xml",
        "views/res_partner_views.xml",
        "views/sale_order_views.xml",
        "views/project_project_views.xml",
        "views/project_plan_views.xml",
        "views/psa_orders_menus.xml",
        "views/psa_lead_source_views.xml",
        "views/res_config_settings_views.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "psa_orders/static/tests/tours/*.js",
        ],
    },
    "demo": [
        "demo/psa_people_demo.xml",
        "demo/psa_orders_demo.xml",
    ],
    "application": True,
}
