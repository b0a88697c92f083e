# Two set-up commands for a fresh machine (see README): `make demo` and `make test`.
# Everything else here is a convenience for developers.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-fast check ui system-deps benchmark benchmark-csv

$(VENV)/.installed: pyproject.toml
	@echo "Installing the Python packages into $(VENV) (once; about 2 minutes) ..."
	@$(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -qq --upgrade pip
	@$(PY) -m pip install -qq -e '.[test]'
	@touch $@

# The demo draws charts, which needs Chromium: installed first when missing (one line).
# In a terminal it goes on to serve its results in the Dagster UI (charts included; Ctrl-C
# stops it); run from a script or CI (no terminal), it ends after printing them.
demo: $(VENV)/.installed
	@bash scripts/install-system-deps.sh chromium
	@$(VENV)/bin/funnel demo
	@if [ -t 1 ] && [ -z "$$CI" ]; then $(VENV)/bin/funnel ui; fi

system-deps:
	bash scripts/install-system-deps.sh

test: $(VENV)/.installed system-deps
	$(PY) -m pytest

# The first two tiers (tests/unit, tests/sql): no Dagster instance, no browser, no server.
test-fast: $(VENV)/.installed
	$(PY) -m pytest tests/unit tests/sql -m "not slow"

check: $(VENV)/.installed
	$(VENV)/bin/ruff check funnel_pipeline assets tests benchmarks
	$(PY) -c "from funnel_pipeline.definitions import defs; defs.validate_loadable(defs); print('definitions load')"

ui: $(VENV)/.installed
	$(VENV)/bin/funnel ui

# Issue 8's benchmark at ≈10M events (generates the data once under benchmarks/data/;
# ~3 min on 2 cores once generated): figures to benchmarks/results/.
benchmark: $(VENV)/.installed
	$(PY) benchmarks/run_benchmark.py --applicants 3500000 --format parquet

benchmark-csv: $(VENV)/.installed
	$(PY) benchmarks/run_benchmark.py --applicants 3500000 --format csv
