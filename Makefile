# PSA suite for Odoo 18. `make test` is the test command (CI runs it through .ci/run).
ODOO_PYTHON ?= python3
PSA := $(ODOO_PYTHON) scripts/psa_dev.py

.PHONY: test run lint bench module peers help

help:
	@echo "make test   - install requirements, run the add-ons' Odoo tests, the XML-RPC suite and the linters"
	@echo "make run    - serve the suite with demo data on http://localhost:8069 (data kept in .local/)"
	@echo "make lint   - ruff (lint + format check) and pylint-odoo"
	@echo "make bench  - every bench/bench_*.py on a fresh database, one table (ours vs Odoo's own code)"
	@echo "make module MODULES=psa_orders - fast loop: install + test add-ons on a cached dependency template"
	@echo "make peers  - Odoo's and OCA's own test suites with our add-ons and without; differences must be listed"
	@echo "              in peers/expected_differences.txt (PEERS_ARGS=--quick: the four suites CI runs)"

test:
	$(PSA) test

run:
	$(PSA) run

lint:
	$(PSA) lint

module:
	$(PSA) module $(MODULES)

bench:
	$(PSA) bench

peers:
	$(ODOO_PYTHON) scripts/psa_peers.py $(PEERS_ARGS)
