/** @odoo-module **/
/**
 * A customer on a phone (started by tests/test_portal_tours.py at 390 px with its own data): reads the
 * prepaid balance, then the managed devices and a device's open ticket; no page is wider than the screen.
 */
import { registry } from "@web/core/registry";

function fitsTheScreen() {
    const width = document.documentElement.scrollWidth;
    if (width > window.innerWidth) {
        throw new Error(`the page is ${width} px wide on a ${window.innerWidth} px screen`);
    }
}

registry.category("web_tour.tours").add("psa_portal_customer_mobile", {
    url: "/my",
    steps: () => [
        {
            content: "Open the prepaid balances from the portal home",
            trigger: 'a[href="/my/prepaid"]',
            run: "click",
        },
        {
            content: "The fund and what is left, with its unit",
            trigger: '.o_psa_prepaid_table tr:contains("Tour: 20 support hours") .o_psa_prepaid_remaining:contains("16.50 h")',
        },
        {
            content: "The balances fit the phone",
            trigger: ".o_psa_prepaid_table",
            run: fitsTheScreen,
        },
        {
            content: "Back to the portal home",
            trigger: '.o_portal_submenu a[href="/my/home"]',
            run: "click",
        },
        {
            content: "Open the managed devices",
            trigger: 'a[href="/my/devices"]',
            run: "click",
        },
        {
            content: "The customer's devices, with their open tickets",
            trigger: '.o_psa_portal_device:contains("TOUR-FS01")',
        },
        {
            content: "The list fits the phone",
            trigger: '.o_psa_portal_device:contains("TOUR-WS01")',
            run: fitsTheScreen,
        },
        {
            content: "Open the file server",
            trigger: '.o_psa_portal_device a:contains("TOUR-FS01")',
            run: "click",
        },
        {
            content: "Its open ticket is listed",
            trigger: '.o_psa_portal_device_page .o_psa_portal_device_ticket:contains("Backup failed")',
        },
        {
            content: "The breadcrumb names the device, and no ticket",
            trigger: '.o_portal_submenu:contains("TOUR-FS01"):not(:contains("Backup failed"))',
        },
        {
            content: "The device page fits the phone",
            trigger: ".o_psa_portal_device_page",
            run: fitsTheScreen,
        },
    ],
});
