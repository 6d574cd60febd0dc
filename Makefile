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

.PHONY: install demo test dev bench lint clean

$(UV):
	$(PYTHON) -m venv .uv-venv
	.uv-venv/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.installed: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/segmentwerk demo-data
	$(BIN)/segmentwerk run --last 12

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check dagster_project tests
	$(BIN)/ruff format --check dagster_project tests

dev: install
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

clean:
	rm -rf warehouse/landing warehouse/demo_truth warehouse/warehouse.* dbt/target dbt/logs
