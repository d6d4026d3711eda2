# Lumbung: `make run` sets up and runs the pipeline; `make test` sets up and runs the checks.
# Needs only Python 3.11 with pip; everything else is installed into the repo (.tools, .venv).

PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
VENV_BI := .venv-bi

# Python compiles every module it imports from source when it may not keep the bytecode, and
# Airflow, dbt, Great Expectations and Superset are thousands of modules imported by every
# process the pipeline and the tests start: let them keep it (in .venv and __pycache__).
unexport PYTHONDONTWRITEBYTECODE

.DEFAULT_GOAL := help
.PHONY: help setup run test lint unit db-start db-stop airflow bi bi-setup bi-export chromium clean

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

unit: setup bi-setup chromium ## Tests only (no lint)
	$(VENV)/bin/pytest

test: lint unit ## Set up, lint, and run the whole test suite

db-start: setup ## Start the embedded warehouse
	$(VENV)/bin/lumbung db start

db-stop: setup ## Stop the embedded warehouse
	$(VENV)/bin/lumbung db stop

airflow: setup ## Airflow UI and scheduler on 127.0.0.1:8080 over the same DAGs and warehouse
	$(VENV)/bin/lumbung airflow

$(VENV_BI)/.synced: bi/pyproject.toml bi/uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(CURDIR)/$(VENV_BI) $(UV) sync --frozen --project bi --python $(PYTHON)
	@touch $@

bi-setup: setup $(VENV_BI)/.synced ## Install Superset into .venv-bi (its own lock: bi/uv.lock)

bi: bi-setup ## Superset on 127.0.0.1:8088 (LUMBUNG_BI_PORT) with the dashboards of bi/dashboards
	$(VENV)/bin/lumbung bi

bi-export: bi-setup ## Write the dashboards as Superset has them now back into bi/dashboards
	$(VENV)/bin/lumbung bi export

chromium: ## Headless Chromium for the dashboard browser test (Debian package; root installs it)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "The browser test needs Chromium: run 'sudo apt-get install chromium' (Debian/Ubuntu)"; fi; }

clean: ## Stop the embedded warehouse and delete all local state (.lumbung)
	-$(VENV)/bin/lumbung db stop
	rm -rf .lumbung
