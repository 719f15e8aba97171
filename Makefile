# Two entry points (README): `make run` runs the daemon's demo on its embedded defaults, `make test` runs every test.
# Both are idempotent on a fresh Debian machine as root: they install what they need, then do their job.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export AIOPSD_CACHE ?= $(HOME)/.cache/aiopsd

# Debian packages: what the demo needs, and what the test suite's real servers need on top.
RUN_DEBS := prometheus
TEST_DEBS := $(RUN_DEBS) prometheus-alertmanager request-tracker5 rt5-standalone rt5-db-sqlite postgresql chromium

.PHONY: run test venv debs-run debs-test cluster tools lint unit integration bench bench-correlation clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

debs-run:
	bash scripts/install-debian.sh $(RUN_DEBS)

debs-test:
	bash scripts/install-debian.sh $(TEST_DEBS)

# Build the Kubernetes control-plane binaries once into $(AIOPSD_CACHE) (reused by every later run).
cluster:
	bash scripts/build-cluster.sh >/dev/null

# Build helm and fetch the prometheus-operator CRDs once into $(AIOPSD_CACHE)/tools (chart tests need them).
tools:
	bash scripts/build-tools.sh >/dev/null

run: venv debs-run
	$(VENV)/bin/aiopsd demo

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

unit: venv tools
	$(VENV)/bin/pytest -q -m "not integration and not e2e"

test: venv debs-test cluster tools lint
	$(VENV)/bin/pytest -q

bench: venv debs-run
	$(PY) benchmarks/tick.py

bench-tickets: venv
	$(PY) benchmarks/ticket_restarts.py

bench-correlation: venv
	$(PY) benchmarks/correlation.py

bench-kpi: venv
	$(PY) benchmarks/kpi.py

clean:
	rm -rf $(VENV) .aiopsd
