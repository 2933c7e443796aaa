{
    "name": "PSA Billing Source Example (tests only)",
    "summary": "A model of its own billed by the billing run through psa.billable.mixin: the readme's example",
    "version": "18.0.1.0.0",
    "category": "Hidden",
    "website": "https://github.com/psa-suite/psa-odoo",
    "author": "PSA Suite contributors",
    "license": "AGPL-3",
    "depends": ["psa_timesheet_billing"],
    "data": ["security/ir.model.access.csv"],
    "installable": True,
}
