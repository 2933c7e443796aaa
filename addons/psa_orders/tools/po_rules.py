"""Purchase-order compliance rules, as plain functions (no ORM) so they are fast to test.

A customer's policy says whether a PO reference is required (never, always, or above an amount);
a registered PO may carry a value cap and an expiry date. ``po_violation`` answers which rule a
document breaks, if any; the models turn that answer into a translated message.
"""

from collections import namedtuple

POLICY_NEVER = "never"
POLICY_ALWAYS = "always"
POLICY_ABOVE = "above"

# What the register knows about one PO of a customer: cap (0 = none), expiry date (or None) and the
# amount already consumed by other documents.
RegisteredPO = namedtuple("RegisteredPO", ["reference", "cap", "expiry", "consumed"])

RULE_REQUIRED = "po_required"
RULE_REQUIRED_ABOVE = "po_required_above"
RULE_EXPIRED = "po_expired"
RULE_CAP = "po_cap_exceeded"


def split_references(reference):
    """The PO references a document mentions ("PO-1, PO-2" when an invoice bills several orders)."""
    if not reference:
        return []
    return [part.strip() for part in reference.split(",") if part.strip()]


def po_violation(policy, threshold, amount, references, registered, on_date):
    """Return ``(rule, details)`` for the first rule the document breaks, or ``None``.

    :param policy: ``never``, ``always`` or ``above``
    :param threshold: amount above which a PO is required (policy ``above``)
    :param amount: the document's untaxed amount, in the same currency as threshold and caps
    :param references: the PO references the document carries (list of str)
    :param registered: ``{reference: RegisteredPO}`` for the references known to the register
    :param on_date: the document's date, compared with the PO expiry date
    """
    if not references:
        if policy == POLICY_ALWAYS:
            return RULE_REQUIRED, {}
        if policy == POLICY_ABOVE and amount > threshold:
            return RULE_REQUIRED_ABOVE, {"threshold": threshold}
        return None
    for reference in references:
        po = registered.get(reference)
        if not po:
            continue
        if po.expiry and on_date and on_date > po.expiry:
            return RULE_EXPIRED, {"reference": reference, "expiry": po.expiry}
        # Round to cents so that float noise never refuses an order that exactly fills the PO.
        if po.cap and round(po.consumed + amount, 2) > round(po.cap, 2):
            return RULE_CAP, {
                "reference": reference,
                "cap": po.cap,
                "consumed": po.consumed,
                "remaining": max(po.cap - po.consumed, 0.0),
            }
    return None
