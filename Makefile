# The verbs a newcomer types. Everything installs from uv.lock into .venv; only Python 3.11 and
# access to PyPI are assumed (uv itself is installed with pip when missing).
SHELL := /bin/bash
PYTHON ?= python3
UV := $(PYTHON) -m uv
export UV_FROZEN := 1

DATA ?= data
CUSTOMERS ?= 5000
MONTHS ?= 24
SEED ?= 42
# `make run` builds the newest two months, so every model has a second version (promoted or
# kept as challenger) and segment_migration has rows.
RUN_MONTHS ?= 2
BENCH_CUSTOMERS ?= 100000
BENCH_MONTHS ?= 12
# More options of the benchmark, e.g. BENCH_ARGS="--data-dir /tmp/bench --skip dbt_parse".
BENCH_ARGS ?=
# The suite runs on this many processes (three keep both cores busy while the long end-to-end
# fixtures run); its long fixtures are shared between them (see tests/conftest.py).
TEST_WORKERS ?= 3
# The UIs read the same data folder as `powerseg run`.
export POWERSEG_DATA_DIR := $(abspath $(DATA))
export DAGSTER_HOME := $(POWERSEG_DATA_DIR)/dagster

.PHONY: uv install install-dev run test dev mlflow lint format bench docs clean

uv:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv

install: uv
	$(UV) sync --frozen --inexact

install-dev: uv
	$(UV) sync --frozen --extra dev

run: install
	$(UV) run powerseg simulate --customers $(CUSTOMERS) --months $(MONTHS) --seed $(SEED) --out $(DATA)
	$(UV) run powerseg backfill --data-dir $(DATA) --newest $(RUN_MONTHS)

test: install-dev
	$(UV) run pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder --durations=25

dev: install
	$(UV) run powerseg prepare --data-dir $(DATA)
	$(UV) run dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# Serves the store runs write to: MLFLOW_TRACKING_URI (e.g. postgresql://...) and
# MLFLOW_ARTIFACT_ROOT when set, else the data folder's SQLite file and artifacts.
mlflow: install
	mkdir -p $(DATA)/mlflow
	$(UV) run mlflow ui \
		--backend-store-uri "$${MLFLOW_TRACKING_URI:-sqlite:///$(POWERSEG_DATA_DIR)/mlflow/mlflow.db}" \
		--default-artifact-root "$${MLFLOW_ARTIFACT_ROOT:-$(POWERSEG_DATA_DIR)/mlflow/mlartifacts}" \
		--host 127.0.0.1 --port 5000

lint: install-dev
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	cd dbt_project && ../.venv/bin/sqlfluff lint models tests macros

format: install-dev
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

bench: install
	$(UV) run python -m powerseg_cli.bench --customers $(BENCH_CUSTOMERS) --months $(BENCH_MONTHS) $(BENCH_ARGS)

docs: install
	cd dbt_project && POWERSEG_WAREHOUSE=$(POWERSEG_DATA_DIR)/warehouse.duckdb ../.venv/bin/dbt docs generate --profiles-dir .

# Regenerates every file derived from powerseg/contract.py (the dbt sources, the contract macro,
# the staging and quarantine YAML, docs/source_contract.md) and from the factor registry
# ml/registry.py (customer_factor_scores and its yml); a test fails when one is stale.
.PHONY: contract
contract: install
	$(UV) run python -m powerseg.contract_docs
	$(UV) run python -m ml.registry_dbt

clean:
	rm -rf $(DATA) dbt_project/target dbt_project/logs
