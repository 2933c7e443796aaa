from collections import defaultdict

from odoo import Command, api, fields, models
from odoo.osv import expression
from odoo.tools import SQL, format_amount

from ..tools.billing_keys import INTERCOMPANY_PERIOD, exactly_once_key, intercompany_group_key
from ..tools.billing_run import summarize_time


class PsaBillingRunLine(models.Model):
    _inherit = "psa.billing.run.line"

    timesheet_ids = fields.Many2many(
        "account.analytic.line",
        "psa_billing_run_line_timesheet_rel",
        "run_line_id",
        "timesheet_id",
        string="Time Entries",
        readonly=True,
        help="Intercompany time: the time entries this line bills (one line per project, company and rate).",
    )


class PsaBillingRun(models.Model):
    """Intercompany billing: time logged by this company's employees on another company's project is
    billed to that company (its partner) at the intercompany rate, one invoice line per project,
    employee company and rate, each time entry keyed once. When the invoice is posted, OCA
    ``account_invoice_inter_company`` mirrors it as a vendor bill there.

    The receiving company still bills that time to its own customer (its run's time keys are
    separate from the intercompany keys), also when one run covers both companies."""

    _inherit = "psa.billing.run"
    _psa_intercompany_listed_entries = 50

    def _get_intercompany_time_domain(self):
        """Hook for extensions: released time of the run's companies' employees on other companies' projects.

        "Other" is per time entry (the employee's company is not the project's), so a run covering
        both companies bills between them too.
        """
        per_company = [
            [("employee_id.company_id", "=", company.id), ("company_id", "!=", company.id)]
            for company in self.company_ids
        ]
        return expression.AND(
            [
                [
                    ("project_id", "!=", False),
                    ("psa_approval_state", "in", self.env["account.analytic.line"]._psa_released_states()),
                    ("date", "<=", self.period_end),
                ],
                expression.OR(per_company) if per_company else expression.FALSE_DOMAIN,
            ]
        )

    @api.model
    def _psa_extra_sources_of(self, run_lines):
        """An intercompany line is collected again from all the time entries it previewed."""
        sources = super()._psa_extra_sources_of(run_lines)
        timesheets = run_lines.filtered(lambda line: line.source_type == "intercompany").timesheet_ids
        if timesheets:
            known = set(sources.get("account.analytic.line", []))
            sources["account.analytic.line"] = sources.get("account.analytic.line", []) + [
                ts_id for ts_id in timesheets.ids if ts_id not in known
            ]
        return sources

    def _psa_collect_extra_sources(self, extra_sources=None):
        vals_list = super()._psa_collect_extra_sources(extra_sources)
        domain = self._get_intercompany_time_domain()
        if extra_sources is not None:
            if not extra_sources.get("account.analytic.line"):
                return vals_list
            domain = expression.AND([domain, [("id", "in", extra_sources["account.analytic.line"])]])
        else:
            # the preview leaves out, in the database, the entries already billed (keyed): their
            # number grows with the history, what is left to bill does not
            domain = expression.AND([domain, [("id", "not in", self._psa_intercompany_billed_subquery())]])
        timesheets = self.env["account.analytic.line"].sudo().search(domain, order="company_id, project_id, date, id")
        if self.partner_ids:
            customers = self.partner_ids.commercial_partner_id
            timesheets = timesheets.filtered(lambda ts: ts.company_id.partner_id in customers)
        if not timesheets:
            return vals_list
        previewed = self._psa_intercompany_previewed_refs(timesheets) if extra_sources is not None else {}
        keys = {ts.id: exactly_once_key("account.analytic.line", ts.id, INTERCOMPANY_PERIOD) for ts in timesheets}
        taken = self.env["psa.billing.key"]._psa_existing(list(keys.values()))
        groups = defaultdict(list)
        rates = {}
        for timesheet in timesheets:
            rate, rule = self._psa_intercompany_rate(timesheet)
            group = self._psa_intercompany_group(timesheet, rate, rule)
            groups[group].append(timesheet.id)
            rates[group] = (rate, rule)
        for group, timesheet_ids in groups.items():
            group_timesheets = timesheets.browse(timesheet_ids)
            todo = group_timesheets.filtered(lambda ts: keys[ts.id] not in taken)
            if extra_sources is None:
                # the preview lists what is left to bill; the confirm reports "already billed" itself
                if todo:
                    vals_list.append(self._psa_prepare_intercompany_vals(todo, keys, *rates[group]))
                continue
            if not todo:
                # every entry billed meanwhile: the keys make the confirm say on which invoice
                vals = self._psa_prepare_intercompany_vals(group_timesheets, keys, *rates[group])
            else:
                vals = self._psa_prepare_intercompany_vals(todo, keys, *rates[group])
                left_out = len(group_timesheets) - len(todo)
                if left_out:
                    vals["explanation"] += " " + self.env._(
                        "%(count)s time entries of the preview were billed meanwhile and are left out.",
                        count=left_out,
                    )
                    vals["_invoice_line_vals"]["psa_billing_explanation"] = vals["explanation"]
            # the line is found again by the first time entry it previewed, even if that one is no
            # longer billable (sent back for approval since the preview)
            vals["source_res_id"] = previewed.get(min(group_timesheets.ids), min(group_timesheets.ids))
            vals_list.append(vals)
        return vals_list

    def _psa_intercompany_previewed_refs(self, timesheets):
        """``{time entry id: source_res_id of the intercompany run line that previewed it}``."""
        lines = self.env["psa.billing.run.line"].search(
            [("run_id", "=", self.id), ("source_type", "=", "intercompany"), ("timesheet_ids", "in", timesheets.ids)]
        )
        return {ts_id: line.source_res_id for line in lines for ts_id in line.timesheet_ids.ids}

    @api.model
    def _psa_intercompany_billed_subquery(self):
        """The ids of the time entries whose intercompany key is taken, as a subquery (a key of an
        invoice reversed in full is free, see ``psa.billing.key``)."""
        self.env["account.move"].flush_model(["payment_state"])
        self.env["psa.billing.key"].flush_model(["source_model", "source_res_id", "period", "move_id"])
        return SQL(
            """(SELECT key.source_res_id
                  FROM psa_billing_key key LEFT JOIN account_move move ON move.id = key.move_id
                 WHERE key.source_model = %s AND key.period = %s AND move.payment_state IS DISTINCT FROM %s)""",
            "account.analytic.line",
            INTERCOMPANY_PERIOD,
            self.env["psa.billing.key"].FREE_PAYMENT_STATE,
        )

    @api.model
    def _psa_intercompany_group(self, timesheet, rate, rule):
        """Hook for extensions: the time entries with the same group become one invoice line: one
        project, one employee company, one rate (and the rule it comes from), whatever the task."""
        return (
            timesheet.employee_id.company_id.id,
            timesheet.company_id.id,
            timesheet.project_id.id,
            round(rate, 6),
            rule,
        )

    def _psa_intercompany_rate(self, timesheet):
        """Hook for extensions: ``(hourly rate, rule)`` at which the employee's company bills the time."""
        seller = timesheet.employee_id.company_id
        if seller.psa_intercompany_rate:
            return seller.psa_intercompany_rate, self.env._("intercompany rate of %(company)s", company=seller.name)
        return timesheet.employee_id.sudo().hourly_cost, self.env._(
            "employee cost of %(employee)s (no intercompany rate set on %(company)s)",
            employee=timesheet.employee_id.name,
            company=seller.name,
        )

    def _psa_intercompany_entries_text(self, timesheets):
        """Hook for extensions: the time entries as the explanation lists them (the first
        ``_psa_intercompany_listed_entries``; the run line's *Time Entries* holds them all)."""
        limit = self._psa_intercompany_listed_entries
        text = "; ".join(
            f"{ts.date} {ts.employee_id.name} {round(ts.unit_amount, 2)} h: {ts.name or '-'}"
            for ts in timesheets[:limit]
        )
        if len(timesheets) > limit:
            text += " " + self.env._("and %(count)s more", count=len(timesheets) - limit)
        return text

    def _psa_prepare_intercompany_vals(self, timesheets, keys, rate, rule):
        """Hook for extensions: the run line (and invoice line) of one group of intercompany time
        entries (same project, employee company and rate): quantity the sum of the hours, the
        explanation listing the entries; one exactly-once key per entry (``keys``: ``{id: key}``)."""
        first = timesheets[:1]
        seller, buyer, project = first.employee_id.company_id, first.company_id, first.project_id
        currency = seller.currency_id
        summary = summarize_time([(ts.date, ts.unit_amount) for ts in timesheets])
        hours = summary["hours"]
        product = self.env.ref("psa_timesheet_billing.product_intercompany_time", raise_if_not_found=False)
        entries = self._psa_intercompany_entries_text(timesheets)
        explanation = self.env._(
            "Intercompany time: %(count)s time entries of %(seller)s, %(hours)s h from %(date_from)s to "
            "%(date_to)s, project %(project)s of %(buyer)s, at %(rate)s per hour (%(rule)s). Entries: %(entries)s.",
            count=summary["count"],
            seller=seller.name,
            hours=round(hours, 2),
            date_from=summary["date_from"],
            date_to=summary["date_to"],
            project=project.name,
            buyer=buyer.name,
            rate=format_amount(self.env, rate, currency),
            rule=rule,
            entries=entries,
        )
        name = self.env._(
            "%(project)s: intercompany time of %(seller)s, %(date_from)s to %(date_to)s",
            project=project.name,
            seller=seller.name,
            date_from=summary["date_from"],
            date_to=summary["date_to"],
        )
        line_vals = {
            "name": name,
            "quantity": hours,
            "price_unit": rate,
            "tax_ids": [],
            "psa_billing_explanation": explanation,
        }
        if product:
            line_vals.update(product_id=product.id, product_uom_id=product.uom_id.id)
        return {
            "kind": "bill",
            "state": "pending",
            "source_type": "intercompany",
            "source_model": "account.analytic.line",
            "source_res_id": min(timesheets.ids),
            "source_name": name,
            "company_id": seller.id,
            "partner_id": buyer.partner_id.id,
            "name": name,
            "quantity": hours,
            "price_unit": rate,
            "currency_id": currency.id,
            "amount": currency.round(hours * rate),
            "explanation": explanation,
            "group_key": intercompany_group_key(seller.id, buyer.partner_id.id, currency.id),
            "timesheet_ids": [Command.set(timesheets.ids)],
            "_keys": [keys[ts_id] for ts_id in timesheets.ids],
            "_invoice_line_vals": line_vals,
            "_invoice_vals": self._psa_generic_invoice_vals(
                buyer.partner_id,
                seller,
                currency,
                self.env._("Intercompany time up to %(date)s", date=self.period_end),
            ),
        }
