# jiayi: set-up, checks and tests.  `make help` lists the targets.
#
# Everything a fresh Debian machine needs is installed from here (Python packages into .venv,
# Debian packages, front-end libraries from npm). Stamp files make a repeated `make install`
# cost about a second: each step reruns only when the file it depends on changes.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
# The steps share .venv, node_modules and the test databases: run them one at a time even under -j.
.NOTPARALLEL:
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JIAYI := $(BIN)/jiayi

VENDOR_DIR := src/jiayi/web/static/vendor
VENDOR_FILES := $(VENDOR_DIR)/htmx.min.js $(VENDOR_DIR)/pico.min.css $(VENDOR_DIR)/echarts.min.js
PO_FILES := $(wildcard src/jiayi/locale/*/LC_MESSAGES/*.po src/jiayi/*/locale/*/LC_MESSAGES/*.po)
MO_FILES := $(PO_FILES:.po=.mo)

ARTIFACTS := test-artifacts
# The machine's PostgreSQL (trust auth). pytest-django creates and drops its own scratch database
# next to this one, named by JIAYI_PG_TEST_DB (see settings._database_config).
PG_DEFAULT_URL := postgres://postgres@127.0.0.1:5432/test

PYTEST_ARGS ?=
DEMO_ARGS ?=
BENCH_ARGS ?=

.PHONY: help install system-packages messages demo test lint typecheck django-checks \
	test-sqlite test-postgres bench format clean distclean

help: ## list the targets
	@echo "Usage: make <target>   (e.g. make install, make demo, make test)"
	@echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-zA-Z_-]*:.*## / {printf "  %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo
	@echo "Variables: PYTEST_ARGS='-k name' (test-sqlite, test-postgres), DEMO_ARGS, BENCH_ARGS,"
	@echo "           DATABASE_URL (PostgreSQL for test-postgres; default $(PG_DEFAULT_URL))"

# --------------------------------------------------------------------------------------------
# Installation

install: system-packages $(VENV)/.installed $(VENDOR_FILES) messages ## set up .venv, Debian packages, static libraries, translations
	@echo "install: ready ($(JIAYI))"

# Runs every time: it only asks dpkg unless something is missing.
system-packages: ## install missing Debian packages (chromium, CJK font, gettext, poppler-utils)
	@scripts/install-system-packages.sh

$(VENV)/.installed: pyproject.toml
	@if [ ! -x $(BIN)/python ]; then \
		echo "install: creating $(VENV)"; \
		$(PYTHON) -m venv $(VENV); \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip; \
	fi
	@echo "install: pip install -e '.[dev]'"
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

# `npm ci` installs exactly what package-lock.json pins (and wipes node_modules first, which
# also removes this stamp). npm itself may come from system-packages on a bare machine.
node_modules/.installed: package.json package-lock.json | system-packages
	@command -v npm >/dev/null || { echo "install: npm not found (install nodejs and npm)" >&2; exit 1; }
	@echo "install: npm ci"
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(VENDOR_FILES) &: node_modules/.installed scripts/vendor-static.sh
	@scripts/vendor-static.sh

messages: ## compile the translations (.po -> .mo)

ifneq ($(strip $(PO_FILES)),)
messages: $(MO_FILES)

# Run from src/jiayi so that only our own locale folders are compiled, never those of the
# packages in .venv or node_modules.
$(MO_FILES) &: $(PO_FILES) | $(VENV)/.installed system-packages
	@if command -v msgfmt >/dev/null; then \
		echo "install: compilemessages"; \
		cd src/jiayi && ../../$(JIAYI) compilemessages --ignore=.venv; \
	else \
		echo "install: WARNING: msgfmt (Debian package gettext) is missing; translations not compiled" >&2; \
	fi
else
messages:
	@echo "install: no .po files under src/jiayi yet; nothing to compile"
endif

# --------------------------------------------------------------------------------------------
# Running

demo: install ## run the demo district on http://127.0.0.1:8000 (migrates and generates data)
	$(JIAYI) demo $(DEMO_ARGS)

bench: install ## run the benchmarks (bench/run_all.py, or every bench/*.py with --quick)
	@if [ -f bench/run_all.py ]; then \
		$(BIN)/python bench/run_all.py $(BENCH_ARGS); \
	else \
		failed=""; ran=0; \
		for script in bench/*.py; do \
			name=$$(basename "$$script"); \
			case "$$name" in _*|conftest.py|\*.py) continue ;; esac; \
			echo "==> $$script --quick"; ran=$$((ran + 1)); \
			$(BIN)/python "$$script" --quick $(BENCH_ARGS) || failed="$$failed $$script"; \
		done; \
		if [ $$ran -eq 0 ]; then echo "bench: no benchmarks in bench/ yet"; fi; \
		if [ -n "$$failed" ]; then echo "bench: FAILED:$$failed" >&2; exit 1; fi; \
	fi

# --------------------------------------------------------------------------------------------
# Checks and tests

# Every step runs even when an earlier one fails, so one report shows all problems; the exit
# status is non-zero if any failed.
test: install ## everything CI runs: lint, type check, Django checks, pytest on SQLite and PostgreSQL
	@failed=""; \
	for step in lint django-checks test-sqlite test-postgres; do \
		start=$$SECONDS; \
		$(MAKE) --no-print-directory $$step || failed="$$failed $$step"; \
		echo "--- $$step took $$((SECONDS - start)) s"; \
	done; \
	echo; \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed" >&2; exit 1; fi; \
	echo "make test: all steps passed (artifacts in $(ARTIFACTS)/)"

lint: $(VENV)/.installed ## ruff check, ruff format --check, mypy (strict)
	@status=0; \
	echo "==> ruff check"; $(BIN)/ruff check || status=1; \
	echo "==> ruff format --check"; $(BIN)/ruff format --check || status=1; \
	echo "==> mypy src"; $(BIN)/mypy src || status=1; \
	exit $$status

typecheck: $(VENV)/.installed ## mypy only
	$(BIN)/mypy src

django-checks: $(VENV)/.installed ## no missing migrations; Django system checks
	@echo "==> jiayi makemigrations --check --dry-run"
	@$(JIAYI) makemigrations --check --dry-run
	@echo "==> jiayi check"
	@$(JIAYI) check

# pytest's exit status 5 means "no tests collected": that is a failure here too (and stays
# non-zero), with a message saying so.
define run_pytest
	status=0; \
	JIAYI_TEST_ARTIFACTS="$(CURDIR)/$(ARTIFACTS)/$(1)" DJANGO_ALLOW_ASYNC_UNSAFE=true \
		$(BIN)/pytest --junitxml="$(ARTIFACTS)/$(1)/junit.xml" --durations=15 $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest ($(1)): no tests were collected; that counts as a failure" >&2; fi; \
	exit $$status
endef

test-sqlite: install ## pytest (browser tests included) on SQLite
	@echo "==> pytest on SQLite"
	@rm -rf "$(ARTIFACTS)/sqlite" && mkdir -p "$(ARTIFACTS)/sqlite"
	@unset DATABASE_URL; $(call run_pytest,sqlite)

# Mandatory under CI or when DATABASE_URL is given: an unreachable server then fails the run.
# Otherwise (a laptop without PostgreSQL) it warns and skips only this run.
test-postgres: install ## pytest (browser tests included) on PostgreSQL (DATABASE_URL or the local server)
	@echo "==> pytest on PostgreSQL"
	@required=""; \
	if [ -n "$${CI:-}" ] || [ -n "$${DATABASE_URL:-}" ]; then required=yes; fi; \
	export DATABASE_URL="$${DATABASE_URL:-$(PG_DEFAULT_URL)}"; \
	shown=$$(printf '%s' "$$DATABASE_URL" | sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#'); \
	if ! error=$$(PGCONNECT_TIMEOUT=10 $(BIN)/python -c 'import os, django; \
			os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiayi.settings"); django.setup(); \
			from django.db import connection; connection.ensure_connection()' 2>&1); then \
		{ echo "$$error" | grep -E '(Error|Exception):' || echo "$$error"; } | tail -n 1 >&2; \
		if [ -n "$$required" ]; then \
			echo "test-postgres: ERROR: cannot connect to PostgreSQL at $$shown." >&2; \
			echo "  The PostgreSQL run is mandatory when CI or DATABASE_URL is set." >&2; \
			exit 1; \
		fi; \
		echo "test-postgres: WARNING: PostgreSQL is not reachable at $$shown: SKIPPING the PostgreSQL run." >&2; \
		echo "  Start PostgreSQL or set DATABASE_URL to run it (it is mandatory in CI)." >&2; \
		exit 0; \
	fi; \
	export JIAYI_PG_TEST_DB="test_jiayi_$$(date +%Y%m%d_%H%M%S)_$$$$"; \
	echo "    server $$shown, scratch database $$JIAYI_PG_TEST_DB"; \
	rm -rf "$(ARTIFACTS)/postgres" && mkdir -p "$(ARTIFACTS)/postgres"; \
	$(call run_pytest,postgres)

format: $(VENV)/.installed ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix
	$(BIN)/ruff format

# --------------------------------------------------------------------------------------------
# Cleaning (var/, which holds the demo database, is left alone)

clean: ## remove caches, test artifacts, vendored static files and compiled translations
	rm -rf $(ARTIFACTS) .pytest_cache .mypy_cache .ruff_cache $(VENDOR_DIR) build
	find src tests bench -name '__pycache__' -type d -prune -exec rm -rf {} + 2>/dev/null || true
	find src -name '*.mo' -path '*/locale/*' -delete

distclean: clean ## also remove .venv and node_modules
	rm -rf $(VENV) node_modules
