# cxloop: `make demo` runs the pipeline on the embedded warehouse; `make test` runs the tests.
# Everything installs into .venv from PyPI; nothing else needs to be on the machine.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
IMPORT_CHECK := import airflow.sdk, dbt.version, great_expectations, pgserver, psycopg

export CXLOOP_HOME  ?= $(CURDIR)/.cxloop
export AIRFLOW_HOME ?= $(CXLOOP_HOME)/airflow
export AIRFLOW__CORE__DAGS_FOLDER  := $(CURDIR)/dags
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install demo test bench bench-scale bench-verbatims lint stop dbt docs docs-serve backfill clean help

help:
	@echo "make demo   run cxloop_nightly for the last 3 days against the bundled simulators"
	@echo "make test   run the test suite (unit + end-to-end)"
	@echo "make bench  loader vs plain COPY at 100k and 1M records (rows/s, peak memory)"
	@echo "make bench-scale [SIZES=\"10000 100000\"]   the whole nightly at those sizes (stage times, memory) -> docs/performance.md"
	@echo "make bench-verbatims [CUSTOMERS=\"10000 100000\"]   two nights of verbatims, the second with 1% new text"
	@echo "make lint   ruff (Python) and sqlfluff (the dbt SQL)"
	@echo "make stop   stop the embedded warehouse"
	@echo "make dbt ARGS='build --select marts'   run dbt against the warehouse"
	@echo "make docs   write the dbt docs site (one HTML file) under .cxloop/dbt_docs"
	@echo "make backfill FROM=YYYY-MM-DD TO=YYYY-MM-DD   an Airflow backfill of those days, with progress"
	@echo "make docs-serve   serve the dbt docs site on http://localhost:8080"

install: $(STAMP)

# constraints.txt pins every transitive version that was tested together.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	@# Some pip configs name index folders that do not exist; drop that noise, keep real errors.
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]" 2> >(grep -v "^WARNING: Location" >&2)
	@$(BIN)/python -c "$(IMPORT_CHECK)" > /dev/null 2>&1 || $(BIN)/python -c "$(IMPORT_CHECK)"
	touch $@

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

# Test sessions side by side, a test module each at a time (its module fixtures build once):
# each session has its own embedded PostgreSQL, Airflow home and dbt target folder.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

bench: $(STAMP)
	$(BIN)/python scripts/bench.py

# Customers per synthetic company; each size runs night 1 (90 days of history) and night 2 (one day).
SIZES ?= 10000 100000
bench-scale: $(STAMP)
	$(BIN)/python scripts/bench_scale.py --sizes $(SIZES)

bench-verbatims: $(STAMP)
	$(BIN)/python scripts/bench_verbatims.py $(if $(CUSTOMERS),--customers $(CUSTOMERS))

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/sqlfluff lint --disable-progress-bar dbt_project/models dbt_project/analyses dbt_project/tests dbt_project/macros

stop: $(STAMP)
	$(BIN)/python -m ingest warehouse stop

dbt: $(STAMP)
	$(BIN)/python -m ingest dbt $(ARGS)

backfill: $(STAMP)
	@test -n "$(FROM)" -a -n "$(TO)" || { echo "usage: make backfill FROM=YYYY-MM-DD TO=YYYY-MM-DD"; exit 2; }
	$(BIN)/python scripts/backfill.py $(FROM) $(TO)

# One self-contained HTML file: it opens from disk, no server needed.
docs: $(STAMP)
	$(BIN)/python -m ingest dbt docs generate --static
	mkdir -p $(CXLOOP_HOME)/dbt_docs
	cp dbt_project/target/static_index.html $(CXLOOP_HOME)/dbt_docs/index.html
	@echo "dbt docs: $(CXLOOP_HOME)/dbt_docs/index.html"

docs-serve: $(STAMP)
	$(BIN)/python -m ingest dbt docs generate
	$(BIN)/python -m ingest dbt docs serve --port 8080 --no-browser

clean: stop
	rm -rf $(CXLOOP_HOME) dbt_project/target dbt_project/logs
