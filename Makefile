# The README's commands. `make demo` and `make test` set up everything from a clean clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install assets browser demo serve test lint typecheck no-wall-clock unit services bench lock clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

install: $(STAMP) assets

## The portal's front-end assets (GOV.UK Frontend, axe-core) from npm; rebuilt only on change.
assets:
	@bash scripts/build-assets.sh

## Debian's Chromium for the portal's browser tests (installed only if missing).
browser:
	@bash scripts/ensure-browser.sh

## Run the demo council on the embedded default (local SQLite store, local connector).
# `crm-bridge demo` makes the portal's demo accounts and prints them; then the portal is
# served on 127.0.0.1:8000 (a fresh session secret each run).
DEMO_CONFIG := --config demo-council/config.yaml
demo: install
	$(BIN)/crm-bridge demo --dir demo-council
	CRM_BRIDGE_SESSION_SECRET="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(32))')" \
	    $(BIN)/crm-bridge $(DEMO_CONFIG) serve --host 127.0.0.1 --port 8000

## Start the services the tests need that this machine may not have running.
services:
	@bash scripts/ensure-services.sh

## Everything CI runs: lint, type check, the whole test suite.
test: install services browser lint typecheck no-wall-clock unit

## Tests assert what the program did, never how long it took (speed is measured in bench/).
no-wall-clock: install
	$(BIN)/python scripts/check-no-wall-clock.py tests

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
