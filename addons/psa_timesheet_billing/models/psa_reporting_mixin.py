import datetime
import functools
import itertools

import babel.dates

from odoo import api, models, tools
from odoo.models import (
    READ_GROUP_DISPLAY_FORMAT,
    READ_GROUP_TIME_GRANULARITY,
    parse_read_group_spec,
    regex_field_agg,
)
from odoo.osv import expression
from odoo.tools import DEFAULT_SERVER_DATE_FORMAT, SQL, Query
from odoo.tools.misc import get_lang

# the context key under which _read_group of the model it names gives a many2one group's value as its raw id
# (None: no value), not as a record: set by the memoised read_group only, which reads ids (another model read
# on the way, by a record rule say, still gets records)
RAW_IDS_KEY = "psa_reporting_raw_ids"
# group labels kept between grouped reads, per reporting model and database: emptied when it grows past this
LABEL_MEMO_SIZE = 20_000
# date groups (label, range, domain) kept between reads, per field, granularity, language and start
DATE_GROUP_MEMO_SIZE = 20_000
# the values a column gives that are keys as they are (the rank and label queries give mostly these)
_PLAIN_TYPES = frozenset({str, int, float, bool, datetime.date, datetime.datetime})
# context keys a display name may depend on that the memo takes into its key; any other key of the display
# name's ``depends_context`` set in the context (show_address, show_email...) leaves the labels to Odoo
LABEL_MEMO_CONTEXT_KEYS = frozenset({"lang", "allowed_company_ids"})
# the group-by field types whose groups may be ordered after the aggregate, with their column type
SORTABLE_COLUMN_TYPES = {
    "many2one": "int4",
    "selection": "varchar",
    "char": "varchar",
    "integer": "int4",
    "boolean": "bool",
    "date": "date",
}


class PsaReportingMixin(models.AbstractModel):
    """A reporting model whose grouped reads (what its pivot and graph views ask) cost little more than the
    aggregate itself. The result is exactly Odoo's ``read_group`` (same rows in the same order, same keys
    in the same order, labels, ``__range``, ``__domain``); ``tests/test_reporting_mixin.py`` compares the
    two. Where Odoo's time goes, measured on 10,000 RMM charges by customer x month (1,242 groups,
    ``bench/bench_reporting.py``), and what this mixin does instead:

    * **Labels.** A many2one group's label is its value's ``sudo().display_name``: about 85 microseconds a
      partner in Odoo 18 (``_get_complete_name`` and its translated type). Labels are kept between reads
      (``_psa_group_labels``), keyed by everything the display name declares it depends on: the values of
      the fields of its ``@api.depends`` (read again at each call), the language, the companies and the
      user. A renamed customer has another key, so another label: nothing is served stale while the
      display name declares its dependencies, which Odoo's own cache relies upon as well.
    * **Order.** Odoo orders a many2one's groups by its comodel's order by joining the comodel to every
      row aggregated and grouping by its order columns. Here the rows are aggregated unordered and the
      groups put in that same order afterwards: the distinct values go to PostgreSQL once, ordered by
      Odoo's own ``_read_group_orderby`` (``_psa_group_ranks``), in the query that also reads what their
      labels depend on.
    * **Rows.** Odoo makes a record of each group's many2one value, a dict of each row, then formats each
      row by itself (a babel date label, an ``expression.AND`` per group-by). Here each distinct value is
      formatted once and each row built in one pass from its columns (``_psa_group_rows``).

    This path is taken for eager reads in their default order (``lazy=False`` and no ``orderby``, what
    pivots and graphs ask) grouped by many2one, selection, char, integer, boolean fields and date fields by
    day, month, quarter or year. Anything else (lazy reads, whose empty groups Odoo fills in;
    ``fill_temporal``; an explicit order; datetimes and their time zone; weeks and their locale-dependent
    numbering; date parts; many2many; properties; a model whose ``_read_group_format_result`` is extended)
    is left to Odoo's own ``read_group``. An extension of ``_read_group`` still gets records.
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
        if lazy or orderby or not self._psa_fast_format_applies(groupby):
            return super().read_group(domain, fields, groupby, offset, limit, orderby, lazy)
        groupby = [groupby] if isinstance(groupby, str) else list(groupby)
        annotated_groupby = self._read_group_get_annotated_groupby(groupby, lazy=False)
        annotated_aggregates = self._psa_annotated_aggregates(fields, annotated_groupby)
        if set(annotated_groupby) & set(annotated_aggregates):
            # an aggregate named as a group-by: Odoo's dict keeps one value under that name
            return super().read_group(domain, fields, groupby, offset, limit, orderby, lazy)
        return self._psa_read_group_eager(domain, annotated_groupby, annotated_aggregates, offset, limit)

    @api.model
    def _psa_read_group_eager(self, domain, annotated_groupby, annotated_aggregates, offset, limit):
        """``BaseModel.read_group(domain, fields, groupby, offset, limit, lazy=False)`` in its default order,
        built in one pass over ``_read_group``'s rows (Odoo makes a dict of each row, then formats it).

        ``annotated_groupby`` and ``annotated_aggregates`` name the group-bys and aggregates as Odoo's
        ``read_group`` names them (its compatibility layer with ``_read_group``, reproduced in
        ``_psa_annotated_aggregates``), so every extension of ``_read_group`` still applies; the tests
        compare the two results."""
        specs = list(annotated_groupby.values())
        order = ",".join(specs)
        # Odoo orders the groups of a many2one by its comodel's order by joining the comodel to every row
        # aggregated (and grouping by its order columns); the groups are put in that same order once they
        # are aggregated instead, with one small query per group-by that also reads what the labels need
        sort_after = self._psa_sort_groups_applies(specs, offset, limit)
        # Odoo makes a record of each group's many2one value (a thousand for a pivot of customers x months);
        # its id is all this read needs, when no extension of _read_group expects records
        raw_ids = type(self)._read_group is models.BaseModel._read_group
        rows = (self.with_context(**{RAW_IDS_KEY: self._name}) if raw_ids else self)._read_group(
            domain,
            specs,
            annotated_aggregates.values(),
            offset=offset,
            limit=limit,
            order=None if sort_after else order,
        )
        if not raw_ids:
            rows = self._psa_rows_with_ids(rows, specs)
        facts = self._psa_group_facts(rows, specs, self._psa_ranked_group_bys(specs) if sort_after else ())
        if sort_after and len(rows) > 1:
            rows = self._psa_sort_groups(rows, facts)
        labels = {spec: labels for spec, (_values, _ranks, labels) in zip(annotated_groupby, facts, strict=True)}
        return self._psa_group_rows(rows, list(annotated_groupby), list(annotated_aggregates), domain, labels)

    @api.model
    def _read_group_postprocess_groupby(self, groupby_spec, raw_values):
        if self.env.context.get(RAW_IDS_KEY) == self._name:
            field = self._fields[parse_read_group_spec(groupby_spec)[0]]
            if field.type == "many2one":
                return iter(raw_values)
        return super()._read_group_postprocess_groupby(groupby_spec, raw_values)

    @api.model
    def _psa_rows_with_ids(self, rows, specs):
        """``_read_group``'s rows with each many2one group value as its id (None: no value)."""
        many2ones = [
            index for index, spec in enumerate(specs) if self._fields[parse_read_group_spec(spec)[0]].type == "many2one"
        ]
        if not many2ones:
            return rows
        converted = []
        for row in rows:
            row = list(row)
            for index in many2ones:
                row[index] = row[index]._ids[0] if row[index]._ids else None
            converted.append(tuple(row))
        return converted

    @api.model
    def _psa_annotated_aggregates(self, fields, annotated_groupby):
        """``{result name: aggregate spec}`` of ``fields``, as ``BaseModel.read_group`` reads them (eager)."""
        aggregates = {"__count": "__count"}
        for field_spec in fields:
            if field_spec == "__count":
                continue
            match = regex_field_agg.match(field_spec)
            if not match:
                raise ValueError(f"Invalid field specification {field_spec!r}.")
            name, func, fname = match.groups()
            if fname:
                aggregates[name] = f"{fname}:{func}"
                continue
            if func:
                aggregates[name] = f"{name}:{func}"
                continue
            if name not in self._fields:
                raise ValueError(f"Invalid field {name!r} on model {self._name!r}")
            field = self._fields[name]
            base = field.base_field
            if base.store and base.column_type and field.aggregator and field_spec not in annotated_groupby:
                aggregates[name] = f"{name}:{field.aggregator}"
        return aggregates

    @api.model
    def _psa_sort_groups_applies(self, specs, offset, limit):
        """Whether the groups may be aggregated without order and put in Odoo's order afterwards: no offset
        or limit (they pick groups by the order), grouped by a many2one whose comodel has an order of its
        own, by fields of this model's table (none translated, company-dependent or delegated; each once)."""
        if offset or limit:
            return False
        field_names = [parse_read_group_spec(spec)[0] for spec in specs]
        if len(set(field_names)) != len(field_names):
            return False
        joined = False
        for field_name in field_names:
            field = self._fields[field_name]
            if field.type not in SORTABLE_COLUMN_TYPES or not field.store or not field.column_type:
                return False
            if field.inherited or field.translate or field.company_dependent:
                return False
            if field.type == "many2one" and self.env[field.comodel_name]._order != "id":
                joined = True
        return joined

    @api.model
    def _psa_ranked_group_bys(self, specs):
        """The positions of the group-bys whose values the sort ranks.

        ``_read_group`` without order still sorts the groups by their raw values, in PostgreSQL's order
        (text by its collation): that is Odoo's order but for a many2one whose comodel has an order of its
        own. When the group-bys start with such many2ones, each ordered by a unique order (one ending with
        its ``id``: no two records tie), ranking those first ones is enough: a stable sort keeps the rest in
        PostgreSQL's order. Otherwise every group-by is ranked."""
        fields = [self._fields[parse_read_group_spec(spec)[0]] for spec in specs]
        joined = [field.type == "many2one" and self.env[field.comodel_name]._order != "id" for field in fields]
        leading = 0
        for field, is_joined in zip(fields, joined, strict=True):
            if not is_joined:
                break
            terms = [term.split()[0] for term in self.env[field.comodel_name]._order.split(",") if term.strip()]
            if "id" not in terms:
                break
            leading += 1
        last_joined = max((index for index, is_joined in enumerate(joined) if is_joined), default=-1)
        if last_joined < leading:
            return range(leading)
        return range(len(specs))

    @api.model
    def _psa_group_facts(self, rows, specs, ranked):
        """Per group-by of ``_read_group``'s ``rows``: ``(values, ranks, labels)``.

        ``values``: each row's value as PostgreSQL has it (a many2one's id, None for no value; None for a
        group-by neither ranked nor many2one); ``ranks`` (for the positions in ``ranked``, else None):
        ``{value: rank}`` in Odoo's order of groups; ``labels``: a many2one's ``{id: display name}``, else
        None. A many2one's ranks and the values its labels depend on come from one query."""
        facts = []
        ranked = set(ranked)
        for index, spec in enumerate(specs):
            field = self._fields[parse_read_group_spec(spec)[0]]
            ranks = labels = None
            rank = index in ranked
            if field.type == "many2one":
                values = [row[index] for row in rows]
                records = self.env[field.comodel_name].browse({value for value in values if value}).sudo()
                dependencies = self._psa_label_dependencies(records) if records else None
                stored = None
                python_order = self._psa_python_order(records) if rank else None
                if python_order:
                    ranks, stored = self._psa_ranks_in_python(records, set(values), python_order, dependencies)
                elif rank and self.env[field.comodel_name]._order != "id":
                    ranks, stored = self._psa_group_ranks(spec, field, set(values), dependencies)
                elif rank:
                    ranks = _python_ranks(values)
                labels = self._psa_group_labels(records, dependencies, stored) if records else {}
            elif not rank:
                values = None
            elif field.type in ("char", "selection"):
                # False: no value (NULL); "" is a value of its own
                values = [None if row[index] is False else row[index] for row in rows]
                ranks, _stored = self._psa_group_ranks(spec, field, set(values))
            else:
                # a boolean group is never NULL (Odoo groups by COALESCE(b, FALSE)); others: False is NULL
                boolean = field.type == "boolean"
                values = [row[index] if boolean or row[index] is not False else None for row in rows]
                ranks = _python_ranks(values)
            facts.append((values, ranks, labels))
        return facts

    @api.model
    def _psa_sort_groups(self, rows, facts):
        """``rows`` in the order Odoo's ``_read_group`` gives them for their group-bys, ascending.

        Each group-by's distinct values have their rank in Odoo's order (``_psa_group_facts``): many2one
        values ordered by their comodel's order and text values by the database's collation, by PostgreSQL
        (``_psa_group_ranks``); dates, numbers and booleans by Python, NULL last as PostgreSQL puts them.
        Ties (a comodel order that does not tell two records apart) share a rank, so the next group-by orders
        them, as in SQL. The sort is stable: group-bys not ranked (``_psa_ranked_group_bys``) keep the order
        PostgreSQL gave them.
        """
        columns = [[ranks[value] for value in values] for values, ranks, _labels in facts if ranks is not None]
        keys = list(zip(*columns, strict=True))
        return [rows[index] for index in sorted(range(len(rows)), key=keys.__getitem__)]

    @api.model
    def _psa_python_order(self, records):
        """``[(field, descending)]`` of the comodel's order when Python orders its records as PostgreSQL
        does: plain stored dates and the id (no text, whose order is the database's collation; no many2one,
        ordered by its own comodel), with no explicit NULLS; else None."""
        terms = []
        for term in records._order.split(","):
            parts = term.split()
            if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1].lower() not in ("asc", "desc")):
                return None
            field = records._fields.get(parts[0])
            if not field or not field.store or not field.column_type or field.inherited or field.company_dependent:
                return None
            # the ORM reads a NULL date as False, a NULL number or boolean as 0 or False: only dates (and the
            # id, never NULL) tell NULL apart, as PostgreSQL's order needs
            if field.type not in ("date", "datetime") and field.name != "id":
                return None
            terms.append((field, len(parts) == 2 and parts[1].lower() == "desc"))
        return terms

    @api.model
    def _psa_ranks_in_python(self, records, values, python_order, dependencies):
        """``({value: rank}, stored)`` as ``_psa_group_ranks`` gives them, for a comodel whose order Python
        follows (``_psa_python_order``): its order columns and the labels' stored dependencies are read in
        one fetch. The group without a record (None) has every order value NULL, as the LEFT JOIN gives it:
        PostgreSQL puts NULL last when ascending, first when descending."""
        stored_fields = [dep for dep in dependencies or () if dep.store and dep.column_type]
        records.fetch([field.name for field, _descending in python_order] + [dep.name for dep in stored_fields])
        rows = {None: [None] * len(python_order)} if None in values else {}
        for record in records:
            rows[record.id] = [record[field.name] or None for field, _descending in python_order]
        ordered = list(rows)
        # one stable sort per term, the last first; (True, 0) for NULL: after every value, first reversed
        for position in reversed(range(len(python_order))):
            ordered.sort(
                key=lambda key, position=position: (
                    (True, 0) if rows[key][position] is None else (False, rows[key][position])
                ),
                reverse=python_order[position][1],
            )
        ranks, previous, rank = {}, object(), -1
        for key in ordered:
            if rows[key] != previous:
                rank, previous = rank + 1, rows[key]
            ranks[key] = rank
        stored = {
            record.id: tuple(_hashable(_column_value(record, dep)) for dep in stored_fields) for record in records
        }
        return ranks, stored

    @api.model
    def _psa_group_ranks(self, spec, field, values, dependencies=None):
        """``({value: rank}, stored)`` of one group-by's distinct values (None: no value) in Odoo's order.

        The values go to PostgreSQL as a table of this model's name, which Odoo's own ``_read_group_orderby``
        orders (joining the comodel with its order, NULL where Odoo puts it); values equal by that order
        share a rank (``dense_rank``). ``stored``: for a many2one whose comodel is joined, ``{id: values of
        the stored fields among dependencies}`` read by the same query (see ``_psa_label_keys``), else None.
        """
        values = list(values)
        if len(values) < 2 and not dependencies:
            return dict.fromkeys(values, 0), None
        alias = self._table
        table = SQL(
            "(SELECT unnest(%s::%s[]) AS %s)",
            values,
            SQL(SORTABLE_COLUMN_TYPES[field.type]),
            SQL.identifier(field.name),
        )
        query = Query(self.env, alias, table)
        term = self._read_group_groupby(spec, query)
        order = self._read_group_orderby(spec, {spec: term}, query)
        columns = [SQL.identifier(alias, field.name), SQL("dense_rank() OVER (ORDER BY %s)", order)]
        coalias = query.make_alias(alias, field.name) if field.type == "many2one" else None
        stored = [dep for dep in dependencies or () if dep.store and dep.column_type]
        joined = coalias is not None and coalias in query._joins
        if joined:
            comodel = self.env[field.comodel_name].sudo()
            columns += [comodel._field_to_sql(coalias, dep.name, query) for dep in stored]
        result = self.env.execute_query(query.select(*columns))
        ranks = {row[0]: row[1] for row in result}
        if not joined:
            return ranks, None
        return ranks, {row[0]: tuple(_hashable(value) for value in row[2:]) for row in result if row[0]}

    @api.model
    def _psa_fast_format_applies(self, groupby):
        """Hook for extensions: whether an eager ``read_group`` grouped by ``groupby`` may use the memoised
        formatting (else Odoo's own). A model whose groups Odoo formats in some other way returns False."""
        if isinstance(groupby, str):
            groupby = [groupby]
        fill_temporal = self.env.context.get("fill_temporal")
        if not groupby or fill_temporal or isinstance(fill_temporal, dict):
            return False
        if type(self)._read_group_format_result is not models.BaseModel._read_group_format_result:
            # an extension formats the groups its own way: Odoo's read_group calls it
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

    def _psa_group_rows(self, rows, specs, aggregate_names, domain, labels=None):
        """``read_group``'s dicts of ``_read_group``'s ``rows`` (the values of ``specs``, then of
        ``aggregate_names``), formatted as ``BaseModel._read_group_format_result`` formats them: the same
        keys in the same order (group-bys, aggregates, ``__domain``, ``__range``), labels and domains. Each
        distinct value of a group-by is formatted once. ``labels``: ``{spec: {id: display name}}`` of the
        many2one group-bys, when they are known already."""
        if labels is None:
            labels = self._psa_many2one_labels(rows, specs)
        width = len(specs)
        # column by column: each distinct value formatted once, then each row built from its columns
        label_columns, domain_columns, range_columns = [], [], []
        for index, spec in enumerate(specs):
            field_type = self._fields[parse_read_group_spec(spec)[0]].type
            formatter = self._psa_group_formatter(spec, labels.get(spec))
            values = [row[index] for row in rows]
            # the key of a value: itself (a many2one's id or None); an integer's with its emptiness (0 is not False)
            keys = [(value is False, value) for value in values] if field_type == "integer" else values
            formatted = {key: formatter(value) for key, value in dict(zip(keys, values, strict=True)).items()}
            label_columns.append([formatted[key][0] for key in keys])
            domain_columns.append([formatted[key][2] for key in keys])
            if field_type == "date":
                range_columns.append((spec, [formatted[key][1] for key in keys]))
        aggregate_columns = [[row[width + index] for row in rows] for index in range(len(aggregate_names))]
        keys = [*specs, *aggregate_names]
        values = zip(*label_columns, *aggregate_columns, strict=True)
        result = [dict(zip(keys, row_values, strict=True)) for row_values in values]
        head, prefix_terms = self._psa_domain_head(expression.normalize_domain(domain), width)
        if head is None:
            for group in result:
                group["__domain"] = list(expression.FALSE_DOMAIN)
        else:
            start = head + prefix_terms
            for group, domains in zip(result, zip(*domain_columns, strict=True), strict=True):
                group["__domain"] = list(itertools.chain(start, *domains))
        # a dict of its own per row, as Odoo gives
        if len(range_columns) == 1:
            [(spec, column)] = range_columns
            for group, value_range in zip(result, column, strict=True):
                group["__range"] = {spec: dict(value_range) if value_range else False}
        elif range_columns:
            for position, group in enumerate(result):
                group["__range"] = {
                    spec: dict(column[position]) if column[position] else False for spec, column in range_columns
                }
        return result

    @api.model
    def _psa_domain_head(self, prefix, count):
        """For a normalised domain ``prefix`` and ``count`` group-bys, return ``(operators, terms)``: each row's
        ``__domain`` is ``operators + terms + its groups' domains``, what Odoo's ``expression.AND`` of the
        domain and each group's domain gives (None, None: the domain is FALSE, and so is every row's).

        Odoo combines one group-by at a time, ``AND([AND([domain, A]), B])``: the same list, as AND
        normalises each operand (a normalised domain is left as it is) and drops the TRUE ones; a group's
        domain ("=" or a range) is never TRUE or FALSE.
        """
        if prefix == expression.FALSE_DOMAIN:
            return None, None
        terms = [] if prefix == expression.TRUE_DOMAIN else list(prefix)
        operands = count + (1 if terms else 0)
        return [expression.AND_OPERATOR] * (operands - 1), terms

    def _psa_many2one_labels(self, rows, specs):
        """``{spec: {id: display name}}`` of the many2one group-bys' values in ``_read_group``'s ``rows``."""
        labels = {}
        for index, spec in enumerate(specs):
            field = self._fields[parse_read_group_spec(spec)[0]]
            if field.type != "many2one":
                continue
            ids = {row[index] for row in rows if row[index]}
            records = self.env[field.comodel_name].browse(ids).sudo()
            labels[spec] = self._psa_group_labels(records, self._psa_label_dependencies(records)) if ids else {}
        return labels

    def _psa_group_labels(self, records, dependencies, stored=None):
        """``{id: records.sudo().display_name}``, as read_group labels many2one groups, from the memo where
        the display name's ``dependencies`` (``_psa_label_dependencies``; None: no memo) and the context are
        those it was computed with. ``stored``: the values of the stored dependencies, read already."""
        records = records.sudo()
        keys = self._psa_label_keys(records, dependencies, stored) if dependencies is not None else None
        if keys is None:
            return {record.id: record.display_name for record in records}
        memo = self._psa_label_memo(records._name)
        labels, missing = {}, []
        for record_id, key in keys.items():
            label = memo.get(key)
            if label is None:
                missing.append(record_id)
            else:
                labels[record_id] = label
        if missing:
            if len(memo) + len(missing) > LABEL_MEMO_SIZE:
                memo.clear()
            for record in records.browse(missing):
                labels[record.id] = memo[keys[record.id]] = record.display_name
        return labels

    def _psa_label_keys(self, records, dependencies, stored=None):
        """``{id: memo key}``: the id, the context key and the values of ``dependencies``, stored ones read
        in one query (``stored`` when read already; pending writes are flushed first, the current language's
        translation), others through the ORM; None when a record is gone or a value cannot be a key."""
        stored_fields = [field for field in dependencies if field.store and field.column_type]
        others = [field for field in dependencies if not (field.store and field.column_type)]
        context_key = self._psa_label_context_key(records)
        keys = {record_id: (record_id, context_key) for record_id in records._ids}
        try:
            if stored_fields and stored is None:
                query = Query(records.env, records._table)
                query.add_where(SQL("%s = ANY(%s)", SQL.identifier(records._table, "id"), list(records._ids)))
                columns = [records._field_to_sql(records._table, field.name, query) for field in stored_fields]
                result = records.env.execute_query(query.select(SQL.identifier(records._table, "id"), *columns))
                stored = {row[0]: tuple(_hashable(value) for value in row[1:]) for row in result}
            if stored_fields:
                if not all(record_id in stored for record_id in keys):
                    return None
                for record_id in keys:
                    keys[record_id] += stored[record_id]
            for field in others:
                for record in records:
                    keys[record.id] += (_hashable(record[field.name]),)
            hash(tuple(keys.values()))
        except TypeError:  # a value that cannot be part of a key
            return None
        return keys

    @api.model
    def _psa_label_dependencies(self, records):
        """Hook for extensions: the fields of ``records``' model that its display name depends on, or None
        to compute every label as Odoo does (no memo).

        The memo is used when the display name declares fields of its own model only (no dotted path: a
        related record's change would not show in the key) and the context sets no key of its
        ``depends_context`` but the language and the companies (``show_address`` and the like make it read
        what it does not declare). A comodel whose display name reads something it does not declare returns
        None here."""
        field = records._fields["display_name"]
        dependencies = []
        for path in records.pool.field_depends.get(field, ()):
            dependency = records._fields.get(path)
            if "." in path or not dependency or dependency.type in ("one2many", "many2many"):
                return None
            dependencies.append(dependency)
        context = records.env.context
        for key in records.pool.field_depends_context.get(field, ()):
            if key not in LABEL_MEMO_CONTEXT_KEYS and context.get(key):
                return None
        return dependencies

    @api.model
    def _psa_label_context_key(self, records):
        env = records.env
        return (env.uid, env.su, env.lang, tuple(env.context.get("allowed_company_ids") or ()))

    @api.model
    @tools.ormcache("model_name")
    def _psa_label_memo(self, model_name):
        """The labels of ``model_name`` kept between grouped reads: a dict in the registry's cache, so it is
        dropped with it (a module installed, a user's groups changed) and never shared between databases."""
        return {}

    def _psa_group_formatter(self, spec, labels=None):
        """Return a function of a group value (as ``_read_group`` gives it) to ``(label, range, domain)``, as
        ``BaseModel._read_group_format_result`` formats it: ``range`` is None when the row has no
        ``__range`` entry for ``spec``, a dict or False otherwise; ``domain`` is the group's extra domain.
        ``labels``: the display names of a many2one's values (``_psa_many2one_labels``), for a many2one."""
        field_name, _property_name, granularity = parse_read_group_spec(spec)
        field = self._fields[field_name]

        if field.type != "date":

            def format_value(value):
                if field.type == "many2one":
                    # the record's id (None: no value), as Odoo labels and filters a record's group
                    if not value:
                        label, value = False, False
                    else:
                        label = (value, labels[value])
                else:
                    label = value
                return label, None, [(field_name, "=", value)]

            return format_value

        granularity = granularity or "month"
        locale = self._psa_group_label_lang()

        def format_date(value):
            if value and isinstance(value, datetime.date):
                return _date_group(field_name, granularity, locale, value)
            # no date: Odoo keeps the value, gives the group the range False
            return value, False, [(field_name, "=", value)]

        return format_date


@functools.lru_cache(maxsize=DATE_GROUP_MEMO_SIZE)
def _date_group(field_name, granularity, locale, value):
    """``(label, range, domain)`` of the date group starting on ``value``, as Odoo formats it: the babel label
    of the granularity's format in ``locale``, the range ``[from, to)`` and its domain. They depend on these
    four arguments only, so they are kept between reads: building the rows of 56 prepaid draw-down groups
    (fund x month, ``bench/bench_reporting.py``) went from 0.27 to 0.11 ms a read, babel's label being most of
    it. The caller copies the range and chains the domain into a list of its own, so the kept values are never
    changed."""
    interval = READ_GROUP_TIME_GRANULARITY[granularity]
    label = babel.dates.format_date(value, format=READ_GROUP_DISPLAY_FORMAT[granularity], locale=locale)
    range_start = value.strftime(DEFAULT_SERVER_DATE_FORMAT)
    range_end = (value + interval).strftime(DEFAULT_SERVER_DATE_FORMAT)
    domain = ("&", (field_name, ">=", range_start), (field_name, "<", range_end))
    return label, {"from": range_start, "to": range_end}, domain


def _hashable(value):
    """A field value as part of a dict key: a translated column's ``{lang: value}`` as sorted pairs, a
    record as its ids."""
    if value is None or type(value) in _PLAIN_TYPES:
        return value
    if isinstance(value, dict):
        return tuple(sorted(value.items()))
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, models.BaseModel):
        return (value._name, value._ids)
    return value


def _python_ranks(values):
    """``{value: rank}`` in PostgreSQL's ascending order of dates, numbers, booleans and ids: NULL (None) last."""
    distinct = sorted({value for value in values if value is not None})
    ranks = {value: rank for rank, value in enumerate(distinct)}
    ranks[None] = len(distinct)
    return ranks


def _column_value(record, field):
    """A stored field's value as its column holds it (a many2one's id, None for no value), from the ORM."""
    value = record[field.name]
    if isinstance(value, models.BaseModel):
        return value.id or None
    return value
