"""18.0.2.0.0: the exactly-once keys store their parts as columns (source model, record id, period).

Keys written before kept them only in their text form ``model:id:period``: this one-off move splits
it, once, into the new columns. From now on the run writes the columns with every key and no code
reads a key's name back.
"""

import logging

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        r"""
        UPDATE psa_billing_key
           SET source_model = split_part(name, ':', 1),
               source_res_id = split_part(name, ':', 2)::int,
               period = substring(name FROM '^[^:]*:[^:]*:(.*)$')
         WHERE source_model IS NULL
           AND name ~ '^[^:]+:[0-9]+:.*$'
        """
    )
    _logger.info("psa_timesheet_billing: %s billing-run keys got their source and period columns", cr.rowcount)
