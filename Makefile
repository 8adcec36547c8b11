# bullpen runbook: each target is one step; every target bootstraps .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-unit lint format bench lock db-stop mlflow-ui

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

# The whole test suite (unit + integration against real PostgreSQL, Prefect and MLflow).
test: $(STAMP)
	$(BIN)/pytest

# Only the fast, offline unit tests.
test-unit: $(STAMP)
	$(BIN)/pytest tests/unit

lint: $(STAMP)
	$(BIN)/ruff check src flows tests bench && $(BIN)/ruff format --check src flows tests bench

format: $(STAMP)
	$(BIN)/ruff format src flows tests bench && $(BIN)/ruff check --fix src flows tests bench

# Ingest write-path benchmarks: live odds snapshots, then the season replay (docs/benchmarks.md).
bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/ingest_history.py

# Re-resolve requirements.in into the lock file after changing a pin.
lock: $(STAMP)
	$(BIN)/uv pip compile requirements.in -p 3.11 --no-header --no-annotate -o requirements.lock

db-stop: $(STAMP)
	$(BIN)/bullpen db stop

mlflow-ui: $(STAMP)
	$(BIN)/bullpen mlflow ui
