# Every target bootstraps what it needs on a fresh machine that has only python3 and pip.
PYTHON ?= python3
UV_VERSION := 0.13.9
VENV := .venv
UV := .uv-venv/bin/uv
BIN := $(VENV)/bin

# Never let a tool fetch its own Python; the machine's python3 (3.11) is the one.
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: install browser demo test dev bench lint clean

# The report test renders HTML in Debian's Chromium; installed once, from Debian's packages.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(UV):
	$(PYTHON) -m venv .uv-venv
	.uv-venv/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.installed: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/segmentwerk demo-data
	$(BIN)/segmentwerk run --last 12

browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# Two workers: the pipeline scenarios are independent and each is mostly one busy core (dbt,
# Dagster); tests/conftest.py keeps the ones that share a warehouse on one worker.
TEST_WORKERS ?= 2
test: install browser
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS)

lint: install
	$(BIN)/ruff check dagster_project tests
	$(BIN)/ruff format --check dagster_project tests

dev: install
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# The benchmark (not part of `make test`): installs the optional `bench` group (lifetimes,
# pymc-marketing) on top of the lock, then runs bench/run.py; BENCH_ARGS="--scales 10000000"
# opts into 10M. Writes bench/results/latest.json and docs/benchmarks.md.
BENCH_ARGS ?=
bench: $(UV)
	$(UV) sync --frozen --compile-bytecode --group bench --python $(PYTHON)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf warehouse/landing warehouse/demo_truth warehouse/warehouse.* dbt/target dbt/logs
