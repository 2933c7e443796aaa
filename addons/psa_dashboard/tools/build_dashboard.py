"""Writes ``data/files/psa_dashboard.json``, the PSA dashboard of the Dashboards app (o-spreadsheet data).

The JSON is what Odoo loads; this script is how it is written and kept readable: the pivots, charts and
cells are declared here once, in Odoo 18's spreadsheet format (the format of core's dashboard files). Run
it after a change and commit both: ``python3 addons/psa_dashboard/tools/build_dashboard.py``. The add-on's
figure test reads the pivots and charts back from the JSON and checks their grouped reads to the cent.

Plain Python, no Odoo import.
"""

import hashlib
import json
import os
import sys
import uuid

OUTPUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "files")
CUSTOMER_FILTER = "6f0a4f0e-5a52-4f43-9d1b-2f1d3c9a7e01"
NAMESPACE = uuid.UUID("0b0e4a8e-2f44-4c7e-9d76-6c1d0a5c3e10")
ROW_HEIGHT = 23
TITLE_HEIGHT = 40
TOP_N = 10
COLORS = {"blue": "#EFF6FF", "red": "#FEF2F2", "green": "#ECFDF5", "amber": "#FFFBEB"}


def fid(name):
    """A stable figure id: the same build writes the same JSON."""
    return str(uuid.uuid5(NAMESPACE, name))


class Dashboard:
    def __init__(self):
        self.pivots = {}
        self.cells = {}
        self.data_cells = {}
        self.styles = {}
        self.formats = {}
        self.figures = []
        self.menus = {}
        self.row = 1
        self.heights = {0: TITLE_HEIGHT}  # 0-based row index -> pixel height, when not ROW_HEIGHT

    # ---------------------------------------------------------------- data sources
    def pivot(self, name, model, measures, rows=(), columns=(), domain=(), sort=None):
        pivot_id = str(len(self.pivots) + 1)
        self.pivots[pivot_id] = {
            "type": "ODOO",
            "fieldMatching": {CUSTOMER_FILTER: {"chain": "partner_id", "type": "many2one"}},
            "context": {},
            "domain": list(domain),
            "id": pivot_id,
            "measures": [{"id": m, "fieldName": m} for m in measures],
            "model": model,
            "name": name,
            "sortedColumn": {"groupId": [[], []], "measure": sort[0], "order": sort[1]} if sort else None,
            "formulaId": pivot_id,
            "columns": [_dimension(c) for c in columns],
            "rows": [_dimension(r) for r in rows],
        }
        return pivot_id

    def chart(self, name, title, model, measure, group_by, x, y, width, height, domain=(), stacked=True, menu=None):
        figure_id = fid(name)
        legend = "top" if len(group_by) > 1 else "none"
        self.figures.append(
            {
                "id": figure_id,
                "x": x,
                "y": y,
                "width": width,
                "height": height,
                "tag": "chart",
                "data": {
                    "title": {"text": title, "bold": True, "color": "#434343"},
                    "background": "#FFFFFF",
                    "legendPosition": legend,
                    "metaData": {
                        "groupBy": list(group_by),
                        "measure": measure,
                        "order": None,
                        "resModel": model,
                        "mode": "bar",
                    },
                    "searchParams": {
                        "comparison": None,
                        "context": {},
                        "domain": list(domain),
                        "groupBy": list(group_by),
                        "orderBy": [],
                    },
                    "type": "odoo_bar",
                    "verticalAxisPosition": "left",
                    "stacked": stacked,
                    "fieldMatching": {CUSTOMER_FILTER: {"chain": "partner_id", "type": "many2one"}},
                },
            }
        )
        if menu:
            self.menus[figure_id] = menu
        return figure_id

    def scorecard(self, name, title, key_cell, baseline_cell, baseline_descr, x, y, background, menu=None):
        figure_id = fid(name)
        self.figures.append(
            {
                "id": figure_id,
                "x": x,
                "y": y,
                "width": 190,
                "height": 109,
                "tag": "chart",
                "data": {
                    "baselineColorDown": "#DC6965",
                    "baselineColorUp": "#00A04A",
                    "baselineMode": "text",
                    "title": {"text": title, "bold": True, "color": "#434343"},
                    "type": "scorecard",
                    "background": background,
                    "baseline": f"Data!{baseline_cell}",
                    "baselineDescr": baseline_descr,
                    "keyValue": f"Data!{key_cell}",
                    "humanize": False,
                },
            }
        )
        if menu:
            self.menus[figure_id] = menu
        return figure_id

    # ---------------------------------------------------------------- cells
    def title(self, text):
        self.row += 1
        self.cells[f"A{self.row}"] = {"content": f'=_t("{text}")'}
        self.styles[f"A{self.row}"] = 1
        self.heights[self.row - 1] = TITLE_HEIGHT
        self.row += 1

    def header(self, *labels):
        for col, label in zip("ABCDEF", labels, strict=False):
            self.cells[f"{col}{self.row}"] = {"content": f'=_t("{label}")' if label else ""}
            self.styles[f"{col}{self.row}"] = 2 if col == "A" else 4
        self.row += 1

    def line(self, *contents):
        for col, content in zip("ABCDEF", contents, strict=False):
            if content is None:
                continue
            self.cells[f"{col}{self.row}"] = {"content": content}
            self.styles[f"{col}{self.row}"] = 3
        self.row += 1

    def skip(self, rows):
        """Leave room for figures: ``rows`` grid rows; returns the pixel top of the figures (a margin below
        the row above)."""
        top = sum(self.heights.get(index, ROW_HEIGHT) for index in range(self.row - 1)) + 10
        self.row += rows
        return top


def _dimension(spec):
    if ":" in spec:
        field, granularity = spec.split(":")
        return {"fieldName": field, "granularity": granularity, "order": "asc"}
    return {"fieldName": spec}


def _lbl(text):
    return f'=_t("{text}")'


def build():
    d = Dashboard()
    d.cells["A1"] = {"content": _lbl("PSA: work to cash")}
    d.styles["A1"] = 1
    d.row = 2

    # ----------------------------------------------------------------- pivots
    wip_customer = d.pivot(
        "Work in progress by customer",
        "psa.dashboard.wip",
        ["amount", "hours"],
        rows=["partner_id"],
        columns=["kind"],
        sort=("amount", "desc"),
    )
    wip_kind = d.pivot("Work in progress by kind", "psa.dashboard.wip", ["amount", "hours"], rows=["kind"])
    billed_kind = d.pivot("Billed by source kind", "psa.dashboard.billed", ["amount"], rows=["kind"])
    attempts = d.pivot("Charge attempts by outcome", "psa.payment.attempt", ["amount", "__count"], rows=["state"])
    retried = d.pivot(
        "Charge attempts: retries", "psa.payment.attempt", ["amount", "__count"], domain=[["number", ">", 1]]
    )
    overdue = d.pivot(
        "Open invoices by age",
        "psa.dashboard.receivable",
        ["amount_residual", "amount_overdue", "__count"],
        rows=["overdue_bucket"],
        domain=[["is_open", "=", True]],
    )
    invoiced_year = d.pivot(
        "Invoiced in the last 365 days",
        "psa.dashboard.receivable",
        ["amount_total"],
        domain=[["invoiced_last_365", "=", True]],
    )
    prepaid = d.pivot(
        "Prepaid funds by unit",
        "psa.dashboard.prepaid",
        ["remaining_quantity", "remaining_value", "drawn_this_month", "drawn_value_this_month", "__count"],
        rows=["unit"],
        domain=[["state", "!=", "settled"]],
    )
    prepaid_low = d.pivot(
        "Funds running low",
        "psa.dashboard.prepaid",
        ["remaining_quantity", "remaining_value", "drawn_this_month", "__count"],
        rows=["fund_id"],
        domain=[["is_low", "=", True]],
        sort=("remaining_value", "asc"),
    )
    service = d.pivot("Service desk automation", "psa.dashboard.service", ["__count"], rows=["kind"])
    charges = d.pivot(
        "RMM charges per customer",
        "psa.rmm.charge",
        ["amount", "__count"],
        rows=["partner_id"],
        sort=("amount", "desc"),
    )

    # ----------------------------------------------------------------- the Data sheet (KPI)
    kpis = [
        ("Approved time not billed", f'=PIVOT.VALUE({wip_kind},"amount","kind","time_approved")'),
        ("Approved hours not billed", f'=PIVOT.VALUE({wip_kind},"hours","kind","time_approved")'),
        ("Milestones not billed", f'=PIVOT.VALUE({wip_kind},"amount","kind","milestone")'),
        ("Time waiting for approval", f'=PIVOT.VALUE({wip_kind},"amount","kind","time_to_approve")'),
        ("Hours waiting for approval", f'=PIVOT.VALUE({wip_kind},"hours","kind","time_to_approve")'),
        ("Open receivables", f'=PIVOT.VALUE({overdue},"amount_residual")'),
        ("Overdue", f'=PIVOT.VALUE({overdue},"amount_overdue")'),
        ("Invoiced in the last 365 days", f'=PIVOT.VALUE({invoiced_year},"amount_total")'),
        ("DSO (days)", "=ROUND(IFERROR([Open receivables]/[Invoiced in the last 365 days]*365),0)"),
        ("Charged and paid", f'=PIVOT.VALUE({attempts},"amount","state","done")'),
        ("Paid charges", f'=PIVOT.VALUE({attempts},"__count","state","done")'),
        ("Failed charges", f'=PIVOT.VALUE({attempts},"amount","state","failed")'),
        ("Failed charge count", f'=PIVOT.VALUE({attempts},"__count","state","failed")'),
        ("Retries", f'=PIVOT.VALUE({retried},"__count")'),
        ("Prepaid balance", f'=PIVOT.VALUE({prepaid},"remaining_value")'),
        ("Prepaid hours left", f'=PIVOT.VALUE({prepaid},"remaining_quantity","unit","hours")'),
        ("Drawn this month", f'=PIVOT.VALUE({prepaid},"drawn_value_this_month")'),
        ("Hours drawn this month", f'=PIVOT.VALUE({prepaid},"drawn_this_month","unit","hours")'),
        ("Funds running low", f'=PIVOT.VALUE({prepaid_low},"__count")'),
        ("RMM alerts", f'=PIVOT.VALUE({service},"__count","kind","alert")'),
        ("Tickets opened by the RMM", f'=PIVOT.VALUE({service},"__count","kind","ticket_opened")'),
        ("Tickets closed by the RMM", f'=PIVOT.VALUE({service},"__count","kind","ticket_closed")'),
        ("RMM charges", f'=PIVOT.VALUE({charges},"amount")'),
    ]
    data_cells = {"A1": {"content": _lbl("KPI")}, "B1": {"content": _lbl("Value")}, "C1": {"content": _lbl("Shown")}}
    row_of = {label: index for index, (label, _formula) in enumerate(kpis, start=2)}
    for index, (label, formula) in enumerate(kpis, start=2):
        for other, other_row in row_of.items():
            formula = formula.replace(f"[{other}]", f"B{other_row}")
        data_cells[f"A{index}"] = {"content": _lbl(label)}
        data_cells[f"B{index}"] = {"content": formula}
        data_cells[f"C{index}"] = {"content": f"=FORMAT.LARGE.NUMBER(B{index})"}
    data_cells[f"C{row_of['DSO (days)']}"] = {"content": f'=CONCATENATE(B{row_of["DSO (days)"]},_t(" days"))'}
    data_cells[f"C{row_of['Funds running low']}"] = {"content": f'=ROUND(B{row_of["Funds running low"]},0)'}

    def shown(label):
        return f"C{row_of[label]}"

    # ----------------------------------------------------------------- scorecards
    top = d.skip(11)
    cards = [
        ("wip_time", "Approved, not billed", "Approved time not billed", "Approved hours not billed", "hours"),
        ("wip_milestones", "Milestones not billed", "Milestones not billed", None, ""),
        ("wip_waiting", "Waiting for approval", "Time waiting for approval", "Hours waiting for approval", "hours"),
        ("receivables", "Open receivables", "Open receivables", "Overdue", "overdue"),
        ("dso", "Days sales outstanding", "DSO (days)", None, "last 365 days"),
        ("paid", "Charged and paid", "Charged and paid", "Paid charges", "charges"),
        ("failed", "Failed charges", "Failed charges", "Retries", "retries"),
        ("prepaid", "Prepaid balance", "Prepaid balance", "Prepaid hours left", "hours left"),
        ("drawn", "Drawn this month", "Drawn this month", "Hours drawn this month", "hours"),
        ("low", "Funds running low", "Funds running low", None, "at or below threshold"),
    ]
    backgrounds = ["blue", "blue", "amber", "red", "red", "green", "red", "green", "green", "amber"]
    for index, (name, title, key, baseline, descr) in enumerate(cards):
        x = (index % 5) * 200
        y = top + (index // 5) * 120
        d.scorecard(
            f"scorecard_{name}",
            title,
            shown(key),
            shown(baseline) if baseline else shown(key).replace("C", "D"),
            descr,
            x,
            y,
            COLORS[backgrounds[index]],
        )

    # ----------------------------------------------------------------- work in progress
    d.title("Work in progress by customer")
    d.header("Customer", "Approved time", "Milestones", "Waiting for approval", "Total", "Hours waiting")
    for rank in range(1, TOP_N + 1):
        pos = f'"#partner_id",{rank}'
        d.line(
            f"=PIVOT.HEADER({wip_customer},{pos})",
            f'=PIVOT.VALUE({wip_customer},"amount",{pos},"kind","time_approved")',
            f'=PIVOT.VALUE({wip_customer},"amount",{pos},"kind","milestone")',
            f'=PIVOT.VALUE({wip_customer},"amount",{pos},"kind","time_to_approve")',
            f'=PIVOT.VALUE({wip_customer},"amount",{pos})',
            f'=PIVOT.VALUE({wip_customer},"hours",{pos},"kind","time_to_approve")',
        )
    top = d.skip(15)
    d.chart(
        "wip_age",
        "Work in progress by age",
        "psa.dashboard.wip",
        "amount",
        ["age_bucket", "kind"],
        0,
        top,
        490,
        320,
    )
    d.chart(
        "waiting_month",
        "Hours waiting for approval, by month",
        "psa.dashboard.wip",
        "hours",
        ["date:month"],
        510,
        top,
        490,
        320,
        domain=[["kind", "=", "time_to_approve"]],
    )

    # ----------------------------------------------------------------- billed
    top = d.skip(16)
    d.chart(
        "billed_month",
        "Billed per month by source kind",
        "psa.dashboard.billed",
        "amount",
        ["invoice_date:month", "kind"],
        0,
        top,
        1000,
        340,
    )
    d.title("Billed by source kind")
    d.header("Source kind", "Billed", "Share")
    billed_start = d.row
    kinds = [
        ("time", "Time"),
        ("milestone", "Milestones"),
        ("agreement", "Agreements"),
        ("device", "Devices"),
        ("rmm_charge", "RMM charges"),
        ("expense", "Expenses"),
        ("intercompany", "Intercompany"),
        ("service", "Service lines"),
    ]
    for kind, label in kinds:
        d.line(
            _lbl(label),
            f'=PIVOT.VALUE({billed_kind},"amount","kind","{kind}")',
            f"=IFERROR(B{d.row}/B{billed_start + len(kinds)},0)",
        )
        d.formats[f"C{d.row - 1}"] = 2
    d.line(_lbl("Total billed"), f'=PIVOT.VALUE({billed_kind},"amount")', None)
    d.styles[f"A{d.row - 1}"] = 2

    # ----------------------------------------------------------------- cash
    top = d.skip(16)
    d.chart(
        "attempts_month",
        "Charge attempts per month (amount)",
        "psa.payment.attempt",
        "amount",
        ["attempt_date:month", "state"],
        0,
        top,
        490,
        320,
    )
    d.chart(
        "attempts_month_count",
        "Charge attempts per month (count)",
        "psa.payment.attempt",
        "__count",
        ["attempt_date:month", "state"],
        510,
        top,
        490,
        320,
    )
    d.title("Invoices charged automatically")
    d.header("Outcome", "Attempts", "Amount")
    for state, label in (("done", "Paid"), ("failed", "Failed"), ("pending", "Pending"), ("unknown", "Unknown")):
        d.line(
            _lbl(label),
            f'=PIVOT.VALUE({attempts},"__count","state","{state}")',
            f'=PIVOT.VALUE({attempts},"amount","state","{state}")',
        )
    d.line(
        _lbl("Retries (attempt 2 and later)"), f'=PIVOT.VALUE({retried},"__count")', f'=PIVOT.VALUE({retried},"amount")'
    )
    d.title("Open invoices by age")
    d.header("Overdue", "Invoices", "Open amount")
    buckets = (
        ("not_due", "Not due"),
        ("1_30", "1-30 days overdue"),
        ("31_60", "31-60 days overdue"),
        ("61_90", "61-90 days overdue"),
        ("91_plus", "Over 90 days overdue"),
    )
    for bucket, label in buckets:
        d.line(
            _lbl(label),
            f'=PIVOT.VALUE({overdue},"__count","overdue_bucket","{bucket}")',
            f'=PIVOT.VALUE({overdue},"amount_residual","overdue_bucket","{bucket}")',
        )
    d.line(_lbl("Days sales outstanding"), f"=Data!C{row_of['DSO (days)']}", None)
    d.styles[f"A{d.row - 1}"] = 2

    # ----------------------------------------------------------------- prepaid funds
    d.title("Prepaid funds running low")
    d.header("Fund", "Remaining", "Balance", "Drawn this month")
    for rank in range(1, TOP_N + 1):
        pos = f'"#fund_id",{rank}'
        d.line(
            f"=PIVOT.HEADER({prepaid_low},{pos})",
            f'=PIVOT.VALUE({prepaid_low},"remaining_quantity",{pos})',
            f'=PIVOT.VALUE({prepaid_low},"remaining_value",{pos})',
            f'=PIVOT.VALUE({prepaid_low},"drawn_this_month",{pos})',
        )

    # ----------------------------------------------------------------- service desk
    top = d.skip(16)
    d.chart(
        "service_month",
        "Service desk automation per month",
        "psa.dashboard.service",
        "__count",
        ["date:month", "kind"],
        0,
        top,
        1000,
        320,
        stacked=False,
    )
    d.title("Service desk")
    d.header("What the automation did", "Count")
    service_kinds = (
        ("alert", "RMM alerts"),
        ("ticket_opened", "Tickets opened by the RMM"),
        ("ticket_closed", "Tickets closed by the RMM"),
    )
    for kind, label in service_kinds:
        d.line(
            _lbl(label),
            f'=PIVOT.VALUE({service},"__count","kind","{kind}")',
        )
    d.title("RMM charges per customer")
    d.header("Customer", "Charges", "Amount")
    for rank in range(1, TOP_N + 1):
        pos = f'"#partner_id",{rank}'
        d.line(
            f"=PIVOT.HEADER({charges},{pos})",
            f'=PIVOT.VALUE({charges},"__count",{pos})',
            f'=PIVOT.VALUE({charges},"amount",{pos})',
        )
    d.row += 2

    return {
        "version": 21,
        "sheets": [
            {
                "id": "sheet1",
                "name": "Dashboard",
                "colNumber": 6,
                "rowNumber": d.row,
                "rows": {str(index): {"size": size} for index, size in sorted(d.heights.items())},
                "cols": {"0": {"size": 250}, **{str(i): {"size": 150} for i in range(1, 6)}},
                "merges": [],
                "cells": d.cells,
                "styles": d.styles,
                "formats": d.formats,
                "borders": {},
                "conditionalFormats": [],
                "figures": d.figures,
                "tables": [],
                "areGridLinesVisible": False,
                "isVisible": True,
                "headerGroups": {"ROW": [], "COL": []},
                "dataValidationRules": [],
                "comments": {},
            },
            {
                "id": "sheet_data",
                "name": "Data",
                "colNumber": 4,
                "rowNumber": len(kpis) + 2,
                "rows": {},
                "cols": {"0": {"size": 220}, "1": {"size": 120}, "2": {"size": 120}},
                "merges": [],
                "cells": data_cells,
                "styles": {"A1:C1": 5},
                "formats": {},
                "borders": {},
                "conditionalFormats": [],
                "figures": [],
                "tables": [],
                "areGridLinesVisible": True,
                "isVisible": True,
                "headerGroups": {"ROW": [], "COL": []},
                "dataValidationRules": [],
                "comments": {},
            },
        ],
        "styles": {
            "1": {"textColor": "#01666b", "bold": True, "fontSize": 16},
            "2": {"textColor": "#434343", "fontSize": 11, "bold": True},
            "3": {"textColor": "#434343", "verticalAlign": "middle"},
            "4": {"textColor": "#434343", "fontSize": 11, "bold": True, "align": "center"},
            "5": {"bold": True},
        },
        "formats": {"1": "#,##0.00", "2": "0%"},
        "borders": {},
        "revisionId": "START_REVISION",
        "uniqueFigureIds": True,
        "settings": {},
        "pivots": d.pivots,
        "pivotNextId": len(d.pivots) + 1,
        "customTableStyles": {},
        "odooVersion": 12,
        "globalFilters": [
            {
                "id": CUSTOMER_FILTER,
                "type": "relation",
                "label": "Customer",
                "modelName": "res.partner",
                "defaultValue": [],
                "defaultValueDisplayNames": [],
                "rangeType": "year",
            }
        ],
        "lists": {},
        "listNextId": 1,
        "chartOdooMenusReferences": d.menus,
    }


SAMPLE_MONTHS = ["Sep", "Oct", "Nov", "Dec"]


def _sample_number(content, low, high):
    """A stable made-up number for a formula of the sample dashboard."""
    digest = int(hashlib.sha1(content.encode()).hexdigest()[:8], 16)
    return round(low + digest % int((high - low) * 100) / 100.0, 2)


def _sample_cell(content):
    """The sample value of a cell that reads Odoo (PIVOT formulas); other cells are kept as they are."""
    if "PIVOT" not in content:
        return content
    if content.startswith("=PIVOT.HEADER(") and "#" in content:
        rank = content.rstrip(")").rsplit(",", 1)[1]
        return f"Sample customer {rank}" if "partner_id" in content else f"Sample fund {rank}"
    if '"__count"' in content:
        return str(int(_sample_number(content, 1, 25)))
    if '"hours"' in content or "quantity" in content or 'drawn_this_month"' in content:
        return str(_sample_number(content, 2, 60))
    return str(_sample_number(content, 200, 9000))


def build_sample(live):
    """The sample dashboard Odoo shows while the records behind it do not exist yet (as core's dashboards
    do): the same sheets and figures with made-up values, and plain charts on a hidden sheet."""
    sample = json.loads(json.dumps(live))
    sample["pivots"], sample["pivotNextId"], sample["globalFilters"] = {}, 1, []
    sample.pop("chartOdooMenusReferences", None)
    for sheet in sample["sheets"]:
        for cell in sheet["cells"].values():
            cell["content"] = _sample_cell(cell["content"])
    sample_cells = {}
    column = 0
    for figure in sample["sheets"][0]["figures"]:
        data = figure["data"]
        if not data["type"].startswith("odoo_"):
            continue
        series = 3 if len(data["metaData"]["groupBy"]) > 1 else 1
        first = column
        sample_cells[f"{_col(first)}1"] = {"content": ""}
        for index, month in enumerate(SAMPLE_MONTHS, start=2):
            sample_cells[f"{_col(first)}{index}"] = {"content": month}
        for serie in range(series):
            col = _col(first + 1 + serie)
            sample_cells[f"{col}1"] = {"content": f"Sample {serie + 1}" if series > 1 else data["title"]["text"]}
            for index in range(2, len(SAMPLE_MONTHS) + 2):
                sample_cells[f"{col}{index}"] = {"content": str(_sample_number(f"{figure['id']}{col}{index}", 1, 50))}
        last_row = len(SAMPLE_MONTHS) + 1
        figure["data"] = {
            "type": "bar",
            "title": data["title"],
            "background": "#FFFFFF",
            "legendPosition": data["legendPosition"],
            "dataSetsHaveTitle": True,
            "dataSets": [
                {"dataRange": f"SampleData!{_col(first + 1 + serie)}1:{_col(first + 1 + serie)}{last_row}"}
                for serie in range(series)
            ],
            "labelRange": f"SampleData!{_col(first)}2:{_col(first)}{last_row}",
            "stacked": data.get("stacked", False),
            "aggregated": False,
            "verticalAxisPosition": "left",
        }
        column += series + 2
    sample["sheets"].append(
        {
            **{key: value for key, value in live["sheets"][1].items() if key not in ("cells", "styles", "cols")},
            "id": "sheet_sample",
            "name": "SampleData",
            "colNumber": max(column, 26),
            "rowNumber": len(SAMPLE_MONTHS) + 2,
            "cols": {},
            "styles": {},
            "cells": sample_cells,
            "isVisible": False,
        }
    )
    return sample


def _col(index):
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def main():
    os.makedirs(OUTPUT, exist_ok=True)
    live = build()
    for name, content in (("psa_dashboard.json", live), ("psa_sample_dashboard.json", build_sample(live))):
        path = os.path.join(OUTPUT, name)
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(content, handle, indent=4, sort_keys=False)
            handle.write("\n")
        sys.stdout.write(f"{path}\n")


if __name__ == "__main__":
    main()
