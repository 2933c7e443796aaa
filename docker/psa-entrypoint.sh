#!/bin/bash
# serve: create the "psa" database with the five add-ons and demo data on first start, then serve it.
# node:  serve the "psa" database another node created (a further node behind the proxy, docker/compose.yml).
# test:  run the whole suite (`make test`) with its own throwaway PostgreSQL inside the container.
set -euo pipefail
MODULES=psa_orders,psa_timesheet_billing,psa_payments,psa_rmm,psa_dashboard
case "${1:-serve}" in
  serve)
    until pg_isready -h db -p 5432 -U odoo -q; do sleep 1; done
    if ! PGPASSWORD=odoo psql -h db -U odoo -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='psa'" | grep -q 1; then
      odoo -c /etc/odoo/odoo.conf -d psa -i "$MODULES" --stop-after-init
      # localstripe answers for Stripe inside the compose network
      odoo shell -c /etc/odoo/odoo.conf -d psa --no-http <<'PY'
env["ir.config_parameter"].set_param("psa_payments.stripe_api_base", "http://localstripe:8420/v1/")
env.cr.commit()
PY
    fi
    echo "PSA suite: http://localhost:8069/web/login  database: psa  login: admin  password: admin"
    exec odoo -c /etc/odoo/odoo.conf -d psa
    ;;
  node)
    until pg_isready -h db -p 5432 -U odoo -q; do sleep 1; done
    exec odoo -c /etc/odoo/odoo.conf -d psa
    ;;
  test)
    exec make test
    ;;
  *)
    exec "$@"
    ;;
esac
