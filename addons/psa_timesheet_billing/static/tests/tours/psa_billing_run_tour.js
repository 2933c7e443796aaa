/** @odoo-module **/
/**
 * The finance lead's run, in a real browser (started by tests/test_billing_run_tours.py with its own data):
 * open Billing Runs from the PSA menu, preview the run, confirm it, open its invoice and read why a line
 * was billed. On a phone the same, through the form's action menu, and the explanation on the line's card.
 */
import { registry } from "@web/core/registry";

const RUN = "Tour: October time";
const CUSTOMER = "Tour Fabrikam";
const EXPLANATION = "2 approved time entries";

registry.category("web_tour.tours").add("psa_billing_run_desktop", {
    url: "/odoo",
    steps: () => [
        {
            content: "Open the apps menu",
            trigger: ".o_navbar_apps_menu button",
            run: "click",
        },
        {
            content: "Open the PSA app",
            trigger: ".o-dropdown-item.o_app:contains(PSA)",
            run: "click",
        },
        {
            content: "Open the Billing menu",
            trigger: ".o_menu_sections button:contains(Billing)",
            run: "click",
        },
        {
            content: "Open Billing Runs",
            trigger: ".o-dropdown-item:contains(Billing Runs)",
            run: "click",
        },
        {
            content: "Open the draft run",
            trigger: `.o_data_row:contains(${RUN}) td[name=name]`,
            run: "click",
        },
        {
            content: "Preview it",
            trigger: ".o_statusbar_buttons button[name=action_preview]",
            run: "click",
        },
        {
            content: "The preview bills the customer's time",
            trigger: `.o_field_widget[name=summary]:contains(${CUSTOMER})`,
        },
        {
            content: "Read the run's lines",
            trigger: ".o_notebook .nav-link:contains(Lines)",
            run: "click",
        },
        {
            trigger: `.o_field_widget[name=line_ids] .o_data_row:contains(${CUSTOMER})`,
        },
        {
            content: "Confirm the run",
            trigger: ".o_statusbar_buttons button[name=action_confirm]:contains(Confirm and Invoice)",
            run: "click",
        },
        {
            content: "Yes, create the invoices",
            trigger: ".modal-footer button.btn-primary",
            run: "click",
        },
        {
            content: "The run is done",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains(Done)",
        },
        {
            content: "Open the run's invoices",
            trigger: "button[name=action_view_invoices]",
            run: "click",
        },
        {
            content: "Open the customer's invoice",
            trigger: `.o_data_row:contains(${CUSTOMER}) td[name=invoice_partner_display_name]`,
            run: "click",
        },
        {
            content: "The invoice line says why it was billed",
            trigger: `.o_field_widget[name=invoice_line_ids] td[name=psa_billing_explanation]:contains(${EXPLANATION})`,
        },
    ],
});

registry.category("web_tour.tours").add("psa_billing_run_mobile", {
    url: "/odoo/action-psa_timesheet_billing.action_psa_billing_run",
    steps: () => [
        {
            content: "Open the draft run (a row or a card, whichever the phone shows)",
            trigger: `.o_data_row:contains(${RUN}) td[name=name], .o_kanban_record:contains(${RUN})`,
            run: "click",
        },
        {
            content: "The form's buttons are in its action menu on a phone",
            trigger: ".o_cp_action_menus button:has(.fa-cog)",
            run: "click",
        },
        {
            content: "Preview the run",
            trigger: ".o-dropdown--menu button[name=action_preview]",
            run: "click",
        },
        {
            content: "The preview bills the customer's time",
            trigger: `.o_field_widget[name=summary]:contains(${CUSTOMER})`,
        },
        {
            trigger: ".o_cp_action_menus button:has(.fa-cog)",
            run: "click",
        },
        {
            content: "Confirm the run",
            trigger: ".o-dropdown--menu button[name=action_confirm]:contains(Confirm and Invoice)",
            run: "click",
        },
        {
            content: "Yes, create the invoices",
            trigger: ".modal-footer button.btn-primary",
            run: "click",
        },
        {
            content: "The run is done: its Invoices button is under the bolt on a phone",
            trigger: ".o_control_panel .o_button_more:has(.fa-bolt)",
            run: "click",
        },
        {
            content: "Open the run's invoices",
            trigger: ".o-form-buttonbox-small button[name=action_view_invoices]",
            run: "click",
        },
        {
            content: "Open the customer's invoice",
            trigger: `.o_kanban_record:contains(${CUSTOMER}), .o_data_row:contains(${CUSTOMER}) td[name=invoice_partner_display_name]`,
            run: "click",
        },
        {
            content: "The invoice line's card says why it was billed",
            trigger: `.o_field_widget[name=invoice_line_ids] .o_kanban_record:contains(${EXPLANATION})`,
            run: "click",
        },
        {
            content: "Its form says it too",
            trigger: `.modal .o_field_widget[name=psa_billing_explanation]:contains(${EXPLANATION})`,
        },
    ],
});
