/** @odoo-module **/
/**
 * The PSA dashboard in the Dashboards app, on the demo data (started by tests/test_dashboard_tour.py):
 * open it, find the scorecards on the screen by their title, then read what the figures show from the
 * spreadsheet: each headline figure (the Data sheet) is a number above zero and each chart has data.
 * The mobile tour picks the dashboard from the phone's dashboard selector and checks the same figures.
 */
import { registry } from "@web/core/registry";

const DASHBOARD = "PSA: work to cash";
const SCORECARDS = [
    "Approved, not billed",
    "Milestones not billed",
    "Waiting for approval",
    "Open receivables",
    "Days sales outstanding",
    "Charged and paid",
    "Failed charges",
    "Prepaid balance",
    "Drawn this month",
    "Funds running low",
];
const CHARTS = [
    "Work in progress by age",
    "Hours waiting for approval, by month",
    "Billed per month by source kind",
    "Charge attempts per month (amount)",
    "Charge attempts per month (count)",
    "Service desk automation per month",
];
// Data sheet rows that the demo data must fill (label in column A, value in column B)
const HEADLINES = [
    "Approved time not billed",
    "Milestones not billed",
    "Time waiting for approval",
    "Open receivables",
    "Overdue",
    "DSO (days)",
    "Charged and paid",
    "Failed charges",
    "Retries",
    "Prepaid balance",
    "Drawn this month",
    "Funds running low",
    "RMM alerts",
    "Tickets opened by the RMM",
    "Tickets closed by the RMM",
    "RMM charges",
];

function dashboardModel() {
    // the dashboard's o-spreadsheet model, found in the web client's component tree
    const stack = [odoo.__WOWL_DEBUG__.root.__owl__];
    while (stack.length) {
        const node = stack.pop();
        const model = node.component?.props?.model;
        if (model?.getters?.getSheetIdByName?.("Data")) {
            return model;
        }
        stack.push(...Object.values(node.children || {}));
    }
    return null;
}

function headlineProblems(model) {
    const getters = model.getters;
    const sheetId = getters.getSheetIdByName("Data");
    const found = {};
    for (let row = 1; row < 60; row++) {
        const label = getters.getEvaluatedCell({ sheetId, col: 0, row }).value;
        if (label) {
            found[label] = getters.getEvaluatedCell({ sheetId, col: 1, row }).value;
        }
    }
    return HEADLINES.filter((label) => !(typeof found[label] === "number" && found[label] > 0)).map(
        (label) => `${label}: ${JSON.stringify(found[label])}`
    );
}

function chartProblems(model) {
    // the charts below the fold are not rendered yet: their data is read from the spreadsheet
    const getters = model.getters;
    const sheetId = getters.getSheetIdByName("Dashboard");
    const charts = {};
    for (const figure of getters.getFigures(sheetId)) {
        const definition = getters.getChartDefinition(figure.id);
        if (definition.type.startsWith("odoo_")) {
            const datasets = getters.getChartRuntime(figure.id)?.chartJsConfig?.data?.datasets || [];
            charts[definition.title.text] = datasets.flatMap((dataset) => dataset.data || []);
        }
    }
    return CHARTS.filter((title) => !(charts[title] || []).some((value) => Number(value) > 0)).map(
        (title) => `${title}: ${charts[title] ? "no data" : "not found"}`
    );
}

async function checkFigures() {
    const started = Date.now();
    let problems = ["the dashboard's spreadsheet was not found"];
    while (Date.now() - started < 45000) {
        const model = dashboardModel();
        if (model) {
            problems = [...headlineProblems(model), ...chartProblems(model)];
            if (!problems.length) {
                return;
            }
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
    }
    throw new Error(`PSA dashboard figures: ${problems.join("; ")}`);
}

const scorecardSteps = () =>
    SCORECARDS.map((title) => ({
        content: `The "${title}" scorecard is shown`,
        trigger: `canvas.o-scorecard[title="${title}"]`,
    }));

registry.category("web_tour.tours").add("psa_dashboard_tour", {
    url: "/odoo/dashboards",
    steps: () => [
        {
            content: "Open the PSA dashboard",
            trigger: `.o_spreadsheet_dashboard_search_panel li[data-name="${DASHBOARD}"]`,
            run: "click",
        },
        {
            content: "It is the open dashboard",
            trigger: `.o_search_panel_category_value.active[data-name="${DASHBOARD}"]`,
        },
        ...scorecardSteps(),
        {
            content: "Every figure is on screen and shows figures of the demo data",
            trigger: ".o-figure canvas",
            timeout: 55000,
            run: checkFigures,
        },
    ],
});

registry.category("web_tour.tours").add("psa_dashboard_mobile_tour", {
    url: "/odoo/dashboards",
    steps: () => [
        {
            content: "Open the phone's dashboard selector",
            trigger: ".o_search_panel_current_selection",
            run: "click",
        },
        {
            content: "Pick the PSA dashboard",
            trigger: `.o_mobile_search_content li:contains(${DASHBOARD})`,
            run: "click",
        },
        {
            content: "It is the open dashboard",
            trigger: `.o_search_panel_current_selection:contains(${DASHBOARD})`,
        },
        ...scorecardSteps(),
        {
            content: "Every figure is on screen and shows figures of the demo data",
            trigger: "canvas.o-scorecard",
            timeout: 55000,
            run: checkFigures,
        },
    ],
});
