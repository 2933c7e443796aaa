"""Odoo's command line (what ``odoo-bin`` does) for the Odoo this Python imports.

The dev kit (``make run``) and the end-to-end tests start their servers with this file rather than
``python -c "import odoo.cli; ..."``: Odoo's multi-process server starts its websocket worker by running
``<python> <sys.argv[0]> gevent <arguments>`` again, which needs a file as ``sys.argv[0]``.
"""

import sys

import odoo.cli

if __name__ == "__main__":
    sys.exit(odoo.cli.main())
