"""How a door decides "new or duplicate?", "first or second?" when the same thing arrives several times at once.

Two idioms, one per purpose:

- Nothing exists yet (a lead of an e-mail address, a request key, the contact of a sender): the decision is
  taken under a transaction-level advisory lock on the normalised key (``pg_advisory_xact_lock(namespace,
  key)``, released when the transaction ends), then either in a fresh cursor (a controller, see
  ``controllers/leads.py``) or, inside a caller's transaction, followed by ``retry_with_fresh_snapshot``.
- A record exists (an invoice, an order, a transaction, a mandate): ``lock_rows`` writes its row first.
"""

import hashlib

from odoo.tools import SQL

LEAD_NAMESPACE = 0x5053414C  # "PSAL": one open-lead decision at a time per company and e-mail
LEAD_REQUEST_NAMESPACE = 0x50534149  # "PSAI": one request at a time per lead source and Idempotency-Key
SENDER_NAMESPACE = 0x50534153  # "PSAS": one first-email contact decision at a time per sender address


def lock_key(*parts):
    """A stable signed 32-bit key for ``pg_advisory_xact_lock(namespace, key)`` from text parts.

    Two different keys may share a value: they then wait for each other, which is slower, never wrong.
    """
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


def retry_with_fresh_snapshot(cr):
    """Fail the transaction with a serialization failure, which Odoo answers by running the request (HTTP or
    XML-RPC call) again in a new transaction: its snapshot then shows what a twin committed meanwhile.

    For a decision taken inside a caller's transaction (``message_process``), where the work cannot move to a
    fresh cursor: after the advisory lock, a twin may have committed what this snapshot cannot see. Not logged
    as a bad query (it is the expected outcome of a race); Odoo logs the retry at INFO level.
    """
    cr.execute(
        "DO $$ BEGIN RAISE EXCEPTION 'decided by a concurrent transaction, retry with a fresh snapshot'"
        " USING ERRCODE = 'serialization_failure'; END $$",
        log_exceptions=False,
    )


def lock_rows(cr, table, ids):
    """Lock existing rows by writing them (``write_date = write_date``: nothing changes), before deciding.

    Odoo's transactions are REPEATABLE READ: after waiting for a plain ``SELECT ... FOR UPDATE`` a transaction
    would go on with a snapshot that misses what the other one did. A row written by the other transaction
    makes the waiting one fail with a serialization failure instead, which Odoo answers by running the request
    again with fresh data. Not logged as a bad query: it is the expected outcome of a race.
    """
    if ids:
        cr.execute(
            SQL("UPDATE %s SET write_date = write_date WHERE id = ANY(%s)", SQL.identifier(table), list(ids)),
            log_exceptions=False,
        )
