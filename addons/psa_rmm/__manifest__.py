{
    "name": "PSA RMM",
    "summary": "RMM alerts and devices feed tickets and billing; the service desk keeps itself tidy",
    "version": "18.0.1.0.0",
    "category": "Services/Helpdesk",
    "website": "https://github.com/psa-suite/psa-odoo",
    "author": "PSA Suite contributors",
    "license": "AGPL-3",
    "depends": [
        "psa_timesheet_billing",
        "helpdesk_mgmt",
        "helpdesk_mgmt_timesheet",
        "helpdesk_ticket_close_inactive",
        "contract_variable_quantity",
    ],
    "assets": {
        "web.assets_tests": [
            "psa_rmm/static/tests/tours/*.js",
        ],
    },
    "data": [
        "security/psa_rmm_security.xml",
        "security/ir.model.access.csv",
        "data/psa_rmm_cron.xml",
        "data/psa_rmm_data.xml",
        "views/psa_device_views.xml",
        "views/psa_rmm_integration_views.xml",
        "views/helpdesk_ticket_views.xml",
        "views/psa_device_snapshot_views.xml",
        "views/res_partner_views.xml",
        "views/psa_rmm_menus.xml",
        "views/res_config_settings_views.xml",
        "views/psa_device_portal_templates.xml",
    ],
    "demo": [
        "demo/psa_rmm_demo.xml",
    ],
}
