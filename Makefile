# Lumbung: `make run` sets up and runs the pipeline; `make test` sets up and runs the checks.
# Needs only Python 3.11 with pip; everything else is installed into the repo (.tools, .venv).

PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv

.DEFAULT_GOAL := help
.PHONY: help setup run test lint unit db-start db-stop airflow clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

setup: $(VENV)/.synced ## Install the locked environment into .venv

run: setup ## Set up, start the embedded warehouse and run every DAG once
	$(VENV)/bin/lumbung run

lint: setup ## ruff and sqlfluff
	$(VENV)/bin/ruff check src dags plugins tests expectations
	$(VENV)/bin/sqlfluff lint dbt_project/models dbt_project/macros dbt_project/tests

unit: setup ## Tests only (no lint)
	$(VENV)/bin/pytest

test: lint unit ## Set up, lint, and run the whole test suite

db-start: setup ## Start the embedded warehouse
	$(VENV)/bin/lumbung db start

db-stop: setup ## Stop the embedded warehouse
	$(VENV)/bin/lumbung db stop

airflow: setup ## Airflow UI and scheduler on 127.0.0.1:8080 over the same DAGs and warehouse
	$(VENV)/bin/lumbung airflow

clean: ## Stop the embedded warehouse and delete all local state (.lumbung)
	-$(VENV)/bin/lumbung db stop
	rm -rf .lumbung
