"""Pure evaluation of the automatic approval rules: no ORM, no database, fast to unit test.

The model gathers every fact it needs in a few grouped reads (hours per employee and day, remaining
budget per task and order line, members of the trusted groups) and hands them over as plain values.
Reasons are returned as a code and its parameters, so the caller words and translates them.
"""

import hashlib
from dataclasses import dataclass, field

KIND_BUDGET = "budget"
KIND_MAX_HOURS_DAY = "max_hours_day"
KIND_DESCRIPTION = "description"
KIND_OPEN_PERIOD = "open_period"
KIND_TRUSTED_GROUP = "trusted_group"
# Budget rules consume the remaining budget, so they run last, on lines that passed everything else.
KIND_ORDER = {
    KIND_DESCRIPTION: 0,
    KIND_OPEN_PERIOD: 1,
    KIND_TRUSTED_GROUP: 2,
    KIND_MAX_HOURS_DAY: 3,
    KIND_BUDGET: 9,
}
EMPTY_DESCRIPTIONS = {"", "/"}
HOURS_ROUNDING = 1e-6


@dataclass(frozen=True)
class Rule:
    id: int
    kind: str
    name: str
    company_id: int
    partner_id: int = 0
    project_id: int = 0
    max_hours: float = 0.0
    open_days: int = 0
    group_id: int = 0

    def applies_to(self, line):
        return (
            self.company_id == line.company_id
            and (not self.partner_id or self.partner_id == line.partner_id)
            and (not self.project_id or self.project_id == line.project_id)
        )


@dataclass(frozen=True)
class Line:
    id: int
    company_id: int
    date: object  # datetime.date
    hours: float
    employee_id: int
    user_id: int = 0
    description: str = ""
    partner_id: int = 0
    project_id: int = 0
    task_id: int = 0
    so_line_id: int = 0


@dataclass
class Facts:
    """What the rules need beyond the line itself, read in batch by the caller."""

    today: object = None
    # company id -> lock date (no time entry on or before it is approved automatically)
    lock_dates: dict = field(default_factory=dict)
    # (employee id, date) -> hours logged that day (every entry not rejected)
    hours_per_day: dict = field(default_factory=dict)
    # task id -> hours still available (allocated minus approved); absent = the task has no budget
    task_budgets: dict = field(default_factory=dict)
    # order line id -> hours still available (ordered minus approved); absent = no budget
    order_line_budgets: dict = field(default_factory=dict)
    # group id -> set of user ids
    group_users: dict = field(default_factory=dict)
    # group id -> group name
    group_names: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    approved: bool
    rule_id: int
    code: str
    params: dict


def _fmt_hours(hours):
    return f"{hours:g}"


def _check(rule, line, facts, budgets):
    """Return ``None`` when ``line`` passes ``rule``, else ``(reason code, params)``."""
    if rule.kind == KIND_DESCRIPTION:
        if (line.description or "").strip() in EMPTY_DESCRIPTIONS:
            return "no_description", {"rule": rule.name}
        return None
    if rule.kind == KIND_OPEN_PERIOD:
        lock_date = facts.lock_dates.get(line.company_id)
        if lock_date and line.date <= lock_date:
            return (
                "closed_period",
                {"date": line.date, "lock": lock_date, "rule": rule.name},
            )
        if rule.open_days and facts.today and (facts.today - line.date).days > rule.open_days:
            return (
                "too_old",
                {"date": line.date, "days": rule.open_days, "rule": rule.name},
            )
        return None
    if rule.kind == KIND_TRUSTED_GROUP:
        if not line.user_id or line.user_id not in facts.group_users.get(rule.group_id, ()):
            return (
                "not_trusted",
                {"group": facts.group_names.get(rule.group_id, ""), "rule": rule.name},
            )
        return None
    if rule.kind == KIND_MAX_HOURS_DAY:
        total = facts.hours_per_day.get((line.employee_id, line.date), line.hours)
        if total > rule.max_hours + HOURS_ROUNDING:
            return (
                "too_many_hours",
                {"hours": _fmt_hours(total), "date": line.date, "max": _fmt_hours(rule.max_hours), "rule": rule.name},
            )
        return None
    if rule.kind == KIND_BUDGET:
        if line.task_id and line.task_id in budgets["task"]:
            key, budget_kind = ("task", line.task_id), "task"
        elif line.so_line_id and line.so_line_id in budgets["order_line"]:
            key, budget_kind = ("order_line", line.so_line_id), "order_line"
        else:
            return "no_budget", {"rule": rule.name}
        remaining = budgets[key[0]][key[1]]
        if line.hours > remaining + HOURS_ROUNDING:
            return (
                "over_budget",
                {
                    "hours": _fmt_hours(line.hours),
                    "remaining": _fmt_hours(max(remaining, 0.0)),
                    "budget": budget_kind,
                    "rule": rule.name,
                },
            )
        return None
    raise ValueError(f"unknown approval rule kind {rule.kind!r}")


def _consume_budget(line, budgets):
    if line.task_id and line.task_id in budgets["task"]:
        budgets["task"][line.task_id] -= line.hours
    elif line.so_line_id and line.so_line_id in budgets["order_line"]:
        budgets["order_line"][line.so_line_id] -= line.hours


def evaluate(lines, rules, facts):
    """Decide for every line: approved when every applicable rule passes, else the first failing rule.

    Lines are taken in (date, id) order so that the oldest time consumes the budget first; a line
    without any applicable rule gets ``None`` (left for a person, nothing to explain).
    Returns ``{line id: Decision or None}``.
    """
    ordered_rules = sorted(rules, key=lambda rule: (KIND_ORDER.get(rule.kind, 5), rule.id))
    budgets = {"task": dict(facts.task_budgets), "order_line": dict(facts.order_line_budgets)}
    decisions = {}
    for line in sorted(lines, key=lambda line: (line.date, line.id)):
        applicable = [rule for rule in ordered_rules if rule.applies_to(line)]
        if not applicable:
            decisions[line.id] = None
            continue
        failure = None
        for rule in applicable:
            failure = _check(rule, line, facts, budgets)
            if failure:
                decisions[line.id] = Decision(False, rule.id, failure[0], failure[1])
                break
        if failure:
            continue
        if any(rule.kind == KIND_BUDGET for rule in applicable):
            _consume_budget(line, budgets)
        names = ", ".join(rule.name for rule in applicable)
        decisions[line.id] = Decision(True, 0, "passed", {"rules": names})
    return decisions


def chunk_by_budget(rows, size):
    """Cut time entries into chunks of about ``size`` that may be decided at the same time.

    ``rows`` are ``(line_id, task_id, order_line_id)`` in decision order (date, id); ``0``/``None``: none. The
    budget rule consumes the remaining hours of a task or an order line, so entries that share one (directly,
    or through an entry on both) stay in one chunk, in their order; a group larger than ``size`` is one chunk.
    Returns lists of line ids.
    """
    parent = {}

    def find(key):
        root = key
        while parent.get(root, root) != root:
            root = parent[root]
        while key != root:
            parent[key], key = root, parent.get(key, key)
        return root

    line_keys = []
    for line_id, task_id, order_line_id in rows:
        keys = [key for key in (("task", task_id), ("sol", order_line_id)) if key[1]] or [("line", line_id)]
        for key in keys:
            parent.setdefault(key, key)
        if len(keys) == 2:
            root_a, root_b = find(keys[0]), find(keys[1])
            if root_a != root_b:
                parent[root_b] = root_a
        line_keys.append((line_id, keys[0]))
    groups = {}
    for line_id, key in line_keys:
        groups.setdefault(find(key), []).append(line_id)
    chunks, current = [], []
    for group in groups.values():
        if current and len(current) + len(group) > size:
            chunks.append(current)
            current = []
        current.extend(group)
    if current:
        chunks.append(current)
    return chunks


def chunk_identity(company_id, line_ids):
    """The queue job identity of one chunk: the same entries of the same company give the same key."""
    digest = hashlib.sha1(",".join(str(i) for i in sorted(line_ids)).encode(), usedforsecurity=False).hexdigest()
    return f"psa-approval-c{company_id}-{digest[:20]}"
