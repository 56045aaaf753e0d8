# The one entry point (STYLE §12). `make help` lists the targets.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP_CORE := $(VENV)/.installed-core
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: perf-tables help install dev demo lint docs test check-wheel test-integration test-integrations test-spark test-browser bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_CORE): pyproject.toml ingest/_hot_path.c | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[analysis]"
	touch $@

$(STAMP_DEV): pyproject.toml ingest/_hot_path.c | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	touch $@ $(STAMP_CORE)

install: $(STAMP_CORE)  ## create .venv and install eventlog
dev: $(STAMP_DEV)  ## install with the dev and bench extras

demo: $(STAMP_CORE)  ## log a real training run into ./.eventlog and print its runs and summary
	$(BIN)/python examples/demo.py

lint: $(STAMP_DEV)  ## ruff and mypy
	$(BIN)/ruff check eventlog ingest query tests benchmarks examples scripts
	$(BIN)/mypy eventlog ingest query scripts/perf_tables.py

docs: $(STAMP_DEV)  ## build the guide in docs/ with mkdocs-material, strict: a broken link fails
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir build/site  # not --quiet: it stops strict mode from counting warnings (mkdocs #4126)

test: lint docs  ## lint, build the docs, then the whole test suite (S3 tests against a moto server on 127.0.0.1)
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not integration and not integrations and not spark and not browser"

check-wheel: $(STAMP_CORE)  ## build the wheel, install it in a fresh venv, import the packages from elsewhere
	bash scripts/check-wheel.sh

test-integration: $(STAMP_DEV)  ## install, start and test against Ceph RGW (real race-safe S3), then stop it
	bash scripts/test-integration.sh

test-spark: $(STAMP_DEV)  ## install Java and PySpark, then test the Spark adapter on local[2] against polars and DuckDB
	bash scripts/install-java.sh
	$(BIN)/python -m pip install --quiet -e ".[spark]"
	$(BIN)/python -m pytest -q -p no:cacheprovider -m spark tests/query/test_spark.py

test-browser: $(STAMP_DEV)  ## install Chromium and selenium, then test the dashboard (eventlog ui) in headless Chromium
	bash scripts/install-chromium.sh
	$(BIN)/python -m pip install --quiet -e ".[dev,browser]"
	$(BIN)/python -m pytest -q -p no:cacheprovider -m browser tests/eventlog/ui

test-integrations: $(STAMP_DEV)  ## install the frameworks (torch, lightning, transformers, keras, xgboost, lightgbm, optuna), train a tiny model with each, read the store back
	$(BIN)/python -m pip install --quiet -e ".[dev,bench,integrations]"
	KERAS_BACKEND=torch $(BIN)/python -m pytest -q -p no:cacheprovider -m integrations tests/eventlog/integrations

bench: $(STAMP_DEV)  ## run every benchmark (each prints a table and writes benchmarks/results/*.json), then perf-tables
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done
	$(MAKE) perf-tables

perf-tables: $(STAMP_DEV)  ## rewrite the tables of docs/performance.md and docs/ui.md from benchmarks/results/*.json
	$(BIN)/python scripts/perf_tables.py

clean:  ## remove the virtual environment, caches and the compiled hot path
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info ingest/_hot_path.*.so
