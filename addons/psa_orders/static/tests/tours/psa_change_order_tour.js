/** @odoo-module **/
/**
 * The project manager's change order, in a real browser (started by tests/test_change_order_tours.py with its
 * own data): open the engagement from PSA > Engagements (from the list: a card opens its tasks) (the PSA app keeps its top bar), read its planned time,
 * raise a change order from it with one more service, and find it under the engagement's Change Orders.
 * On a phone the same, through the form's action menu and the stat buttons under the bolt.
 */
import { registry } from "@web/core/registry";

const ENGAGEMENT = "Tour Contoso migration";
const CUSTOMER = "Tour Contoso";
const EXTRA = "Tour extra site survey";

registry.category("web_tour.tours").add("psa_change_order_desktop", {
    url: "/odoo/action-psa_orders.action_psa_engagements",
    steps: () => [
        {
            content: "A card opens the engagement's tasks: the list opens the engagement itself",
            trigger: ".o_switch_view.o_list",
            run: "click",
        },
        {
            content: "Open the engagement",
            trigger: `.o_data_row:contains(${ENGAGEMENT}) td[name=display_name]`,
            run: "click",
        },
        {
            content: "Its planned time: the 36 hours its order planned",
            trigger: ".o_form_view .o_field_widget[name=allocated_hours]:contains(36:00)",
        },
        {
            content: "The PSA app keeps its top bar",
            trigger: ".o_main_navbar .o_menu_brand:contains(PSA)",
        },
        {
            content: "Raise a change order",
            trigger: ".o_statusbar_buttons button[name=action_psa_new_change_order]",
            run: "click",
        },
        {
            content: "The quotation is for the engagement's customer",
            trigger: `.o_form_view .o_field_widget[name=partner_id] input:value(${CUSTOMER})`,
        },
        {
            content: "Add the extra work",
            trigger: ".o_field_x2many_list_row_add a:contains(Add a product)",
            run: "click",
        },
        {
            trigger: ".o_selected_row .o_field_widget[name=product_template_id] input",
            run: `edit ${EXTRA}`,
        },
        {
            trigger: `.o-autocomplete--dropdown-item:contains(${EXTRA})`,
            run: "click",
        },
        {
            trigger: ".o_selected_row .o_field_widget[name=product_uom_qty] input",
            run: "edit 8",
        },
        {
            content: "Save the change order",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            trigger: ".o_form_view:not(:has(.o_form_button_save:visible))",
        },
        {
            content: "Back to the engagement",
            trigger: `.o_breadcrumb a:contains(${ENGAGEMENT})`,
            run: "click",
        },
        {
            content: "The change order is attached to the engagement",
            trigger: "button[name=action_psa_view_change_orders] .o_stat_value:contains(1)",
            run: "click",
        },
        {
            trigger: `.o_data_row:contains(${CUSTOMER})`,
        },
    ],
});

registry.category("web_tour.tours").add("psa_change_order_mobile", {
    url: "/odoo/action-psa_orders.action_psa_engagements",
    steps: () => [
        {
            content: "A card opens the engagement's tasks: switch to the list",
            trigger: ".o_cp_switch_buttons button",
            run: "click",
        },
        {
            trigger: ".o-dropdown-item:contains(List)",
            run: "click",
        },
        {
            content: "Open the engagement",
            trigger: `.o_data_row:contains(${ENGAGEMENT}) td[name=display_name]`,
            run: "click",
        },
        {
            content: "Its planned time: the 36 hours its order planned",
            trigger: ".o_form_view .o_field_widget[name=allocated_hours]:contains(36:00)",
        },
        {
            content: "The form's buttons are in its action menu on a phone",
            trigger: ".o_cp_action_menus button:has(.fa-cog)",
            run: "click",
        },
        {
            content: "Raise a change order",
            trigger: ".o-dropdown--menu button[name=action_psa_new_change_order]",
            run: "click",
        },
        {
            content: "Add the extra work",
            trigger: ".o_form_view .o_x2m_control_panel button:contains(Add product)",
            run: "click",
        },
        {
            content: "On a phone the product is picked from a search dialog",
            trigger: ".modal .o_field_widget[name=product_id] input",
            run: "click",
        },
        {
            content: "Open the dialog's search",
            trigger: ".modal:contains(Search: Product) .o_control_panel button:has(.fa-search)",
            run: "click",
        },
        {
            trigger: ".modal .o_searchview_input",
            run: `edit ${EXTRA}`,
        },
        {
            trigger: ".modal .o_searchview_input",
            run: "press Enter",
        },
        {
            trigger: `.modal .o_kanban_record:contains(${EXTRA})`,
            run: "click",
        },
        {
            trigger: `.modal .o_field_widget[name=product_id]:contains(${EXTRA}), .modal .o_field_widget[name=product_id] input:value(${EXTRA})`,
        },
        {
            content: "Keep the line",
            trigger: ".modal-footer .o_form_button_save",
            run: "click",
        },
        {
            content: "The line is on the quotation",
            trigger: `.o_field_widget[name=order_line] .o_kanban_record:contains(${EXTRA})`,
        },
        {
            content: "Save the change order",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            trigger: ".o_form_view:not(:has(.o_form_button_save:visible))",
        },
        {
            content: "Back to the engagement",
            trigger: ".o_back_button",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=allocated_hours]",
        },
        {
            content: "Its stat buttons are under the bolt on a phone",
            trigger: ".o_control_panel .o_button_more:has(.fa-bolt)",
            run: "click",
        },
        {
            content: "The change order is attached to the engagement",
            trigger: "button[name=action_psa_view_change_orders]",
            run: "click",
        },
        {
            trigger: `.o_kanban_record:contains(${CUSTOMER}), .o_data_row:contains(${CUSTOMER})`,
        },
    ],
});
