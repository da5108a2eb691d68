# Everything a new machine needs is installed by these targets; see README.md.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.installed
EXTRA_STAMP := $(VENV)/.installed-extras
PACKAGES := packages/platform packages/agent-config packages/llm-router packages/service-kit packages/search apps/core-api apps/orchestrator apps/llm-router apps/local-agent
PYPROJECTS := $(foreach p,$(PACKAGES),$(p)/pyproject.toml)
# Extras the development machine needs on top of each package's own dependencies: the
# embedded PostgreSQL server and the phi-db command.
EXTRAS := packages/platform=embedded,cli
editable = -e "$(1)$(if $(filter $(1)=%,$(EXTRAS)),[$(patsubst $(1)=%,%,$(filter $(1)=%,$(EXTRAS)))])"

WEB := apps/web
WEB_STAMP := $(WEB)/node_modules/.installed
WEB_BUILD := $(WEB)/.next/BUILD_ID
WEB_SOURCES := $(shell find $(WEB)/src -type f 2>/dev/null) $(wildcard $(WEB)/*.ts $(WEB)/*.mjs $(WEB)/*.json)
CHROMIUM := /usr/bin/chromium
PGBOUNCER := /usr/sbin/pgbouncer
# System packages (Chromium, MariaDB, wrk): only the missing ones, without recommended packages,
# and never upgrading what is installed (the script stops and says so; PHI_APT_ALLOW_UPGRADES=1
# lets it go ahead). As root, or through sudo otherwise.
APT_INSTALL := sh scripts/apt-install-missing.sh

# Container images of the platform (deploy/Dockerfile, deploy/web.Dockerfile; docs/deploy.md).
# CONTAINER=docker works too; PYTHON_BASE / NODE_BASE replace the default base images.
CONTAINER ?= podman
PYTHON_BASE ?= python:3.11-slim
NODE_BASE ?= node:20-slim
IMAGE_PREFIX ?= localhost/phi
VERSION ?= latest
IMAGE_TARGETS := core-api orchestrator llm-router phi-agent
# podman writes OCI images by default, which drop HEALTHCHECK; Docker's format keeps it.
BUILD_FORMAT := $(if $(filter podman,$(notdir $(CONTAINER))),--format=docker,)

.PHONY: images test-deploy web-install web-build web-check web-test dev demo test test-full lint bench bench-orchestrator bench-documents bench-search-quality bench-search-1m bench-search-units bench-llm install clean-data

install: $(STAMP)

# Re-runs only when a pyproject or the dev requirements change.
$(STAMP): $(PYPROJECTS) requirements-dev.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(APT_INSTALL) libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core  # WeasyPrint (report PDFs)
	$(PIP) install $(foreach p,$(PACKAGES),$(call editable,$(p))) -r requirements-dev.txt
	@touch $@

dev: $(STAMP) $(WEB_BUILD)
	$(PY) scripts/dev/run.py

# pytest's temporary folders live under .phi/tmp: pytest makes its temp root private (0700)
# at every start, which would lock the embedded PostgreSQL's user out of the folders of
# another test run going on at the same time under /tmp.
PYTEST := mkdir -p .phi/tmp && PYTEST_DEBUG_TEMPROOT=$(CURDIR)/.phi/tmp $(PY) -m pytest

# The whole product headless: sign-up to a daily report read through phi-agent (README).
demo: $(STAMP)
	$(PY) scripts/demo/run.py

# The browser journey (apps/web/tests) runs inside pytest against the production build.
# The slowest tests are listed at the end: the whole run must stay under 15 minutes. It runs
# serially: on two workers (PYTEST_ARGS="-n 2", pytest-xdist) it was slower on 2 cores, see
# docs/benchmarks.md ("The test suite's duration").
# The OpenAPI fuzz tests send fewer generated requests per route here than in test-full
# (the tests' default, 25); PHI_FUZZ_EXAMPLES set in the environment wins.
test: export PHI_FUZZ_EXAMPLES ?= 10
test: $(STAMP) web-check $(WEB_BUILD) $(CHROMIUM) $(PGBOUNCER)
	$(PYTEST) -m "not slow" --durations=15 $(PYTEST_ARGS)

# Web app: node packages from the lockfile, the production build, and its fast checks
# (API types current with the services, TypeScript, Vitest units).
web-install: $(WEB_STAMP)
$(WEB_STAMP): $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

web-build: $(WEB_BUILD)
$(WEB_BUILD): $(WEB_STAMP) $(WEB_SOURCES)
	cd $(WEB) && NEXT_TELEMETRY_DISABLED=1 npx --no-install next build

web-check: $(STAMP) $(WEB_STAMP)
	cd $(WEB) && PHI_PYTHON=$(abspath $(PY)) node scripts/gen-api.mjs --check
	cd $(WEB) && npx --no-install tsc --noEmit
	cd $(WEB) && npx --no-install vitest run

web-test: web-check $(WEB_BUILD) $(CHROMIUM)
	$(PYTEST) $(WEB)/tests $(PYTEST_ARGS)

# Headless Chromium for the browser tests, from Debian (never a browser download).
$(CHROMIUM):
	$(APT_INSTALL) chromium

# PgBouncer, from Debian: the services' database engine is tested through it (session mode,
# as docs/deploy.md suggests in front of many replicas).
$(PGBOUNCER):
	$(APT_INSTALL) pgbouncer

# The llamacpp extra compiles llama.cpp (several minutes on 2 cores): only for test-full
# and the LLM benchmark, never for `make dev` or `make test`.
$(EXTRA_STAMP): $(STAMP) packages/llm-router/pyproject.toml
	$(PIP) install -e "packages/llm-router[llamacpp]"
	@touch $@

# MariaDB for the db tool's MySQL tests (test-full only), from Debian like Chromium.
MARIADB := /usr/sbin/mariadbd
$(MARIADB):
	$(APT_INSTALL) mariadb-server

test-full: $(STAMP) $(EXTRA_STAMP) $(MARIADB) $(PGBOUNCER)
	$(PYTEST) $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy packages/platform/src packages/llm-router/src packages/agent-config/src \
		packages/service-kit/src packages/search/src apps/local-agent/src apps/core-api/src \
		apps/orchestrator/src apps/llm-router/src

# wrk drives the load; installed from the system's packages when missing (root or sudo).
bench: $(STAMP)
	@command -v wrk >/dev/null || $(APT_INSTALL) wrk
	$(PY) bench/agents_list.py

# Orchestrator: long-poll claim latency against a 5 s poller, overhead per report task,
# tasks/s with 1 and 2 workers (about 3 minutes).
bench-orchestrator: $(STAMP)
	$(PY) bench/orchestrator.py

# Documents: PDF libraries, ingestion stages, search quality (vector vs hybrid on the labelled
# set), search latency/recall at 10k and 100k chunks.
bench-documents: $(STAMP)
	$(PY) bench/pdf_extraction.py
	$(PY) bench/ingestion.py
	$(PY) bench/search_quality.py
	$(PY) bench/search.py --sizes 10000 100000

bench-search-quality: $(STAMP)
	$(PY) bench/search_quality.py

# Search at 10k, 100k and 1M chunks in one run. The first run loads ~1.7 GB and builds the 1M
# HNSW index (about 15 minutes on 2 cores); later runs reuse the tables kept in .phi/bench.
bench-search-1m: $(STAMP)
	test -f .phi/bench/e5_query_offset.npz || $(PY) bench/search_quality.py
	$(PY) bench/search.py --sizes 10000 100000 1000000

# LLM router overhead per call: in-process, as a service, and the provider called directly.
# Search latency with units (small-to-big) against today's hybrid over passages, at 100k and
# 1M units, interleaved query by query. The first run loads the tables (about 5 minutes for
# 1M units, twice: vectors in the row and out of line) and builds tenant A's HNSW indexes
# (about 8 minutes each at 1M); later runs reuse them from .phi/bench.
bench-search-units: $(STAMP)
	$(PY) bench/search_units.py --passages 25000 250000

bench-llm: $(STAMP) $(EXTRA_STAMP)
	$(PY) bench/llm_router_overhead.py

clean-data:
	rm -rf .phi

images:
	for target in $(IMAGE_TARGETS); do \
		$(CONTAINER) build $(BUILD_FORMAT) --build-arg BASE=$(PYTHON_BASE) --target $$target \
			-f deploy/Dockerfile -t $(IMAGE_PREFIX)-$$target:$(VERSION) . || exit 1; \
	done
	$(CONTAINER) build $(BUILD_FORMAT) --build-arg BASE=$(NODE_BASE) -f deploy/web.Dockerfile \
		-t $(IMAGE_PREFIX)-web:$(VERSION) .

# Builds every image with podman (local Debian bases, and stand-ins for PostgreSQL, S3 and
# nginx), brings deploy/compose.yaml up with podman-compose and runs the README walk-through
# against it (scripts/deploy/check_images.py). Not part of `make test`. Installs what it needs:
# podman with runc (crun cannot set rlimits on these machines), netavark and aardvark-dns for
# the compose network and its service names, debootstrap for the local base images;
# podman-compose comes with requirements-dev.txt.
test-deploy: $(STAMP)
	$(APT_INSTALL) podman runc netavark aardvark-dns iptables debootstrap
	$(PY) scripts/deploy/check_images.py
