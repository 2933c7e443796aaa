import datetime

import babel.dates

from odoo import api, models
from odoo.models import READ_GROUP_DISPLAY_FORMAT, READ_GROUP_TIME_GRANULARITY, parse_read_group_spec
from odoo.osv import expression
from odoo.tools import DEFAULT_SERVER_DATE_FORMAT
from odoo.tools.misc import get_lang

# the context key that tells _read_group_format_result that read_group chose the memoised formatting
FAST_FORMAT_KEY = "psa_reporting_fast_format"


class PsaReportingMixin(models.AbstractModel):
    """A reporting model whose grouped reads (what its pivot and graph views ask) format their groups cheaply.

    Odoo's ``read_group`` formats every group row by itself: a babel date label and its range per date
    group-by, the many2one's ``(id, display_name)`` (through a ``sudo()`` per row) and an
    ``expression.AND`` per group-by. A pivot of customers x months has a thousand rows but a hundred
    customers and twelve months: this mixin computes the label, the range and the extra domain once per
    distinct value of each group-by and builds each row's ``__domain`` with one ``expression.AND``. The
    result is exactly Odoo's (same keys in the same order, labels, ``__range``, ``__domain``, row order);
    ``tests/test_reporting_mixin.py`` compares the two.

    The memoised path is taken for eager reads (``lazy=False``, what pivots and graphs ask) grouped by
    many2one, selection, char, integer, boolean fields and date fields by day, month, quarter or year.
    Anything else (lazy reads, whose empty groups Odoo fills in; ``fill_temporal``; datetimes and their
    time zone; weeks and their locale-dependent numbering; date parts; many2many; properties) is left to
    Odoo's own ``read_group``.
    """

    _name = "psa.reporting.mixin"
    _description = "Reporting Model (memoised grouped reads)"

    # field types the memoised formatting handles (values compared with "=" in the group's domain)
    _psa_fast_group_types = ("many2one", "selection", "char", "integer", "boolean", "date")
    # granularities of a date group-by it handles (a fixed label format, no locale-dependent week)
    _psa_fast_date_granularities = ("day", "month", "quarter", "year")

    @api.model
    @api.readonly
    def read_group(self, domain, fields, groupby, offset=0, limit=None, orderby=False, lazy=True):
        if lazy or not self._psa_fast_format_applies(groupby):
            return super().read_group(domain, fields, groupby, offset, limit, orderby, lazy)
        return super(PsaReportingMixin, self.with_context(**{FAST_FORMAT_KEY: True})).read_group(
            domain, fields, groupby, offset, limit, orderby, lazy
        )

    @api.model
    def _psa_fast_format_applies(self, groupby):
        """Hook for extensions: whether an eager ``read_group`` grouped by ``groupby`` may use the memoised
        formatting (else Odoo's own). A model whose groups Odoo formats in some other way returns False."""
        if isinstance(groupby, str):
            groupby = [groupby]
        if not groupby or self.env.context.get("fill_temporal"):
            return False
        for spec in groupby:
            field_name, property_name, granularity = parse_read_group_spec(spec)
            field = self._fields.get(field_name)
            if property_name or not field or field.type not in self._psa_fast_group_types:
                return False
            if field.type == "date":
                if (granularity or "month") not in self._psa_fast_date_granularities:
                    return False
            elif granularity:
                return False
        return True

    @api.model
    def _psa_group_label_lang(self):
        """The language of the date labels: ``get_lang(env).code``, as Odoo's formatting takes it, without
        reading the user's company (three wide rows on a fresh cache) when only one language is installed,
        which is then get_lang's answer whatever the context and the company say."""
        installed = self.env["res.lang"].get_installed()
        if len(installed) == 1:
            return installed[0][0]
        return get_lang(self.env).code

    def _read_group_format_result(self, rows_dict, lazy_groupby):
        if not self.env.context.get(FAST_FORMAT_KEY):
            return super()._read_group_format_result(rows_dict, lazy_groupby)
        formatters = [(spec, self._psa_group_formatter(spec), {}) for spec in lazy_groupby]
        row_domain, prefix = None, None
        for row in rows_dict:
            if row["__domain"] is not row_domain:
                # every row has read_group's domain: normalised once, not once per row and group-by
                row_domain = row["__domain"]
                prefix = expression.normalize_domain(row_domain)
            additional_domains = []
            for spec, formatter, memo in formatters:
                value = row[spec]
                key = value.id if isinstance(value, models.BaseModel) else value
                formatted = memo.get(key)
                if formatted is None:
                    formatted = memo[key] = formatter(value)
                label, value_range, additional_domain = formatted
                row[spec] = label
                if value_range is not None:
                    # a dict of its own per row, as Odoo gives
                    row.setdefault("__range", {})[spec] = dict(value_range) if value_range else False
                additional_domains.append(additional_domain)
            row["__domain"] = self._psa_and_domains(prefix, additional_domains)

    @api.model
    def _psa_and_domains(self, prefix, additional_domains):
        """``expression.AND([domain, *additional_domains])`` for a ``domain`` already normalised (``prefix``)
        and normalised additional domains, none of them TRUE or FALSE (a group's "=" or range domain).

        Odoo combines one group-by at a time, ``AND([AND([domain, A]), B])``: the same list, as AND
        normalises each operand (a normalised domain is left as it is) and drops the TRUE ones.
        """
        if prefix == expression.FALSE_DOMAIN:
            return list(expression.FALSE_DOMAIN)
        terms = [] if prefix == expression.TRUE_DOMAIN else list(prefix)
        count = len(additional_domains) + (1 if terms else 0)
        for additional_domain in additional_domains:
            terms += additional_domain
        return [expression.AND_OPERATOR] * (count - 1) + terms

    def _psa_group_formatter(self, spec):
        """Return a function of a group value (as ``_read_group`` gives it) to ``(label, range, domain)``, as
        ``BaseModel._read_group_format_result`` formats it: ``range`` is None when the row has no
        ``__range`` entry for ``spec``, a dict or False otherwise; ``domain`` is the group's extra domain."""
        field_name, _property_name, granularity = parse_read_group_spec(spec)
        field = self._fields[field_name]

        if field.type != "date":

            def format_value(value):
                if isinstance(value, models.BaseModel):
                    label = (value.id, value.sudo().display_name) if value else False
                    value = value.id
                else:
                    label = value
                return label, None, [(field_name, "=", value)]

            return format_value

        granularity = granularity or "month"
        interval = READ_GROUP_TIME_GRANULARITY[granularity]
        display_format = READ_GROUP_DISPLAY_FORMAT[granularity]
        locale = self._psa_group_label_lang()

        def format_date(value):
            if value and isinstance(value, datetime.date):
                label = babel.dates.format_date(value, format=display_format, locale=locale)
                range_start = value.strftime(DEFAULT_SERVER_DATE_FORMAT)
                range_end = (value + interval).strftime(DEFAULT_SERVER_DATE_FORMAT)
                domain = ["&", (field_name, ">=", range_start), (field_name, "<", range_end)]
                return label, {"from": range_start, "to": range_end}, domain
            # no date: Odoo keeps the value, gives the group the range False
            return value, False, [(field_name, "=", value)]

        return format_date
