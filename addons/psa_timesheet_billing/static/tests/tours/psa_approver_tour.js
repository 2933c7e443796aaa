/** @odoo-module **/
/**
 * The approver's day, in a real browser (started by tests/test_approval_tours.py with its own data):
 * narrow Time to Approve to what a rule held, read why, open the entry, approve the selection in bulk.
 * The mobile tour (390 px) reads the reason on the card (the kanban Odoo mobile opens), approves from the card,
 * then selects two entries in the list (a long press, then a tap) and approves them in bulk.
 */
import { registry } from "@web/core/registry";

const HELD = "Rack cabling";
const WAITING = "Patch panel labels";
const MORE = "Switch firmware";

/** A long press on a phone: how Odoo's list starts selecting rows on a touch screen. */
async function longPress() {
    const row = this.anchor;
    const touch = new Touch({ identifier: 1, target: row });
    row.dispatchEvent(new TouchEvent("touchstart", { bubbles: true, cancelable: true, touches: [touch] }));
    await new Promise((resolve) => setTimeout(resolve, 600));
    row.dispatchEvent(new TouchEvent("touchend", { bubbles: true, cancelable: true, changedTouches: [touch] }));
}

registry.category("web_tour.tours").add("psa_approver_desktop", {
    url: "/odoo/action-psa_timesheet_billing.action_psa_timesheets_to_approve",
    steps: () => [
        {
            content: "Keep the tour's project only",
            trigger: ".o_searchview_input",
            run: "edit Tour network refresh",
        },
        {
            content: "Search it as a project",
            trigger: ".o_searchview_autocomplete .o_menu_item:contains(Search Project)",
            run: "click",
        },
        {
            content: "Both entries wait for approval",
            trigger: `.o_data_row:contains(${WAITING})`,
        },
        {
            trigger: `.o_data_row:contains(${HELD})`,
        },
        {
            content: "Open the filters",
            trigger: ".o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            content: "Narrow to what a rule refused",
            trigger: ".o_filter_menu .o_menu_item:contains(Refused by a rule)",
            run: "click",
        },
        {
            content: "To Approve and Refused by a rule are two facets: they combine with AND",
            trigger: ".o_searchview_facet:contains(To Approve) ~ .o_searchview_facet:contains(Refused by a rule)",
        },
        {
            content: "The entry no rule looked at is gone",
            trigger: `.o_list_table:not(:has(.o_data_row:contains(${WAITING})))`,
        },
        {
            content: "Why it waits reads first what differs",
            trigger: `.o_data_row:contains(${HELD}) td[name=psa_approval_reason]:contains("Over 8 h/day: 11 h on")`,
        },
        {
            content: "Open the held entry",
            trigger: `.o_data_row:contains(${HELD}) td[name=name]`,
            run: "click",
        },
        {
            content: "The entry's own form says why it waits, with the employee, task and hours",
            trigger: '.o_form_view .alert:contains(Why it waits):contains("Over 8 h/day")',
        },
        {
            trigger: ".o_form_view .o_field_widget[name=employee_id]:contains(Tour Technician)",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=task_id]:contains(Core switch)",
        },
        {
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_psa_approve]",
        },
        {
            content: "Back to the list",
            trigger: ".o_breadcrumb .o_back_button a, .o_breadcrumb a:contains(Time to Approve)",
            run: "click",
        },
        {
            content: "Drop the rule filter: both entries again",
            trigger: ".o_searchview_facet:contains(Refused by a rule) .o_facet_remove",
            run: "click",
        },
        {
            trigger: `.o_data_row:contains(${WAITING})`,
        },
        {
            content: "Select every entry",
            trigger: "thead .o_list_record_selector input",
            run: "click",
        },
        {
            content: "Open the Action menu",
            trigger: ".o_cp_action_menus button:has(.fa-cog)",
            run: "click",
        },
        {
            content: "Approve the selection",
            trigger: ".o-dropdown--menu .o_menu_item:contains(Approve):not(:contains(rules))",
            run: "click",
        },
        {
            content: "The approver is told what was approved",
            trigger: ".o_notification:contains(2 time entries approved)",
        },
        {
            content: "Nothing of the project waits any more",
            trigger: ".o_view_nocontent, .o_list_table:not(:has(.o_data_row))",
        },
    ],
});

registry.category("web_tour.tours").add("psa_approver_mobile", {
    url: "/odoo/action-psa_timesheet_billing.action_psa_timesheets_to_approve",
    steps: () => [
        {
            content: "On a phone the approver gets the cards",
            trigger: ".o_kanban_view",
        },
        {
            content: "The held entry's card says why it waits",
            trigger: `.o_kanban_record:contains(${HELD}):contains("Over 8 h/day: 11 h on")`,
        },
        {
            content: "Open the card",
            trigger: `.o_kanban_record:contains(${HELD}) span:contains(${HELD})`,
            run: "click",
        },
        {
            content: "The form says why, and has the decisions",
            trigger: '.o_form_view .alert:contains(Why it waits):contains("Over 8 h/day")',
        },
        {
            content: "Back to the cards",
            trigger: ".o_back_button, .o_breadcrumb .o_back_button",
            run: "click",
        },
        {
            content: "Approve from the card",
            trigger: `.o_kanban_record:contains(${HELD}) button[name=action_psa_approve]`,
            run: "click",
        },
        {
            content: "Approved: the card has no Approve button any more (or left the list of what waits)",
            trigger: `.o_kanban_renderer:not(:has(.o_kanban_record:contains(${HELD}) button[name=action_psa_approve]))`,
        },
        {
            content: "The other entry keeps its own Approve button",
            trigger: `.o_kanban_record:contains(${WAITING}) button[name=action_psa_approve]`,
        },
        {
            content: "Bulk approval on a phone: switch to the list",
            trigger: ".o_cp_switch_buttons button",
            run: "click",
        },
        {
            trigger: ".o-dropdown-item:contains(List)",
            run: "click",
        },
        {
            content: "A long press selects an entry",
            trigger: `.o_data_row:contains(${WAITING})`,
            run: longPress,
        },
        {
            trigger: `.o_data_row.o_data_row_selected:contains(${WAITING})`,
        },
        {
            content: "Then a tap adds another one",
            trigger: `.o_data_row:contains(${MORE}) td[name=date]`,
            run: "click",
        },
        {
            content: "Two entries are selected",
            trigger: `.o_data_row.o_data_row_selected:contains(${MORE})`,
        },
        {
            trigger: ".o_list_selection_box:contains(2)",
        },
        {
            content: "Open the Action menu",
            trigger: ".o_control_panel .o_cp_action_menus button:has(.fa-cog)",
            run: "click",
        },
        {
            content: "Approve the selection",
            trigger: ".o-dropdown--menu .o_menu_item:contains(Approve):not(:contains(rules))",
            run: "click",
        },
        {
            content: "The approver is told what was approved",
            trigger: ".o_notification:contains(2 time entries approved)",
        },
    ],
});
