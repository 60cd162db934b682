# The README's commands. `make demo` and `make test` set up everything from a clean clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo serve test lint typecheck unit services bench lock clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## Run the demo council on the embedded default (local SQLite store, local connector).
demo: install
	$(BIN)/crm-bridge demo --dir demo-council

## Start the services the tests need that this machine may not have running.
services:
	@bash scripts/ensure-services.sh

## Everything CI runs: lint, type check, the whole test suite.
test: install services lint typecheck unit

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest

bench: install
	$(BIN)/python -m bench.core_throughput

## Re-pin requirements.lock from pyproject.toml in a scratch virtualenv.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -e '.[dev]'
	{ echo "# Pinned versions of every package crm-bridge and its tests install; CI installs exactly these."; \
	  echo "# Regenerate with 'make lock' after changing dependencies in pyproject.toml."; \
	  .lock-venv/bin/pip freeze --exclude-editable | grep -vi '^crm.bridge'; } > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) dist build .pytest_cache .mypy_cache .ruff_cache demo-council
