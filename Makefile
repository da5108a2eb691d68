# Everything a new machine needs is installed by these targets; see README.md.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.installed
EXTRA_STAMP := $(VENV)/.installed-extras
PACKAGES := packages/platform packages/llm-router apps/core-api
PYPROJECTS := $(foreach p,$(PACKAGES),$(p)/pyproject.toml)

.PHONY: dev test test-full lint bench install clean-data

install: $(STAMP)

# Re-runs only when a pyproject or the dev requirements change.
$(STAMP): $(PYPROJECTS) requirements-dev.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install $(foreach p,$(PACKAGES),-e $(p)) -r requirements-dev.txt
	@touch $@

dev: $(STAMP)
	$(PY) scripts/dev/run.py

test: $(STAMP)
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-full: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy packages/platform/src

bench: $(STAMP)
	$(PY) bench/agents_list.py

clean-data:
	rm -rf .phi
