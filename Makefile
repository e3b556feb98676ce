# The project's entry points. Two of them are all a newcomer needs:
#   make demo   - install, migrate, load the real catalog, run both walkthroughs of the source document
#   make test   - run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
MANAGE := $(PY) manage.py

.PHONY: install setup demo run test bench bench-check bench-checkout bench-seats bench-commands lint worker edx-standin clean

# The virtualenv with uv in it; uv then installs exactly what uv.lock pins.
$(UV):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet "uv==$(UV_VERSION)"

# Compiled bytecode: the environment may set PYTHONDONTWRITEBYTECODE, and then every process
# (each manage.py command, each test's subprocess) would recompile ~1,900 modules, 2-3 s here.
$(VENV)/.installed: $(UV) pyproject.toml uv.lock Makefile
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --inexact --quiet --compile-bytecode
	touch $@

# The project's own modules compiled too (a no-op when up to date), for the same reason.
install: $(VENV)/.installed
	@$(PY) -m compileall -q main b2b courses ecommerce openedx

setup: install
	$(MANAGE) migrate --no-input -v 0
	$(MANAGE) configure_wagtail

# A fresh demo database every time: flush, configure, load the catalog, run the walkthroughs.
demo: setup
	$(MANAGE) demo_reset
	rm -f codes-*.csv
	$(MANAGE) configure_wagtail
	$(MANAGE) load_catalog
	$(MANAGE) b2b_demo

# The dev server's address: `make run RUN_ADDRESS=127.0.0.1:8181` for another port (set
# SITE_BASE_URL to match, for the links in mail and the demo's output).
RUN_ADDRESS ?= 127.0.0.1:8000
run: setup
	$(MANAGE) runserver $(RUN_ADDRESS)

test: install
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The enrollment codes at scale on PostgreSQL: seconds, queries, rows/s and the ratio to the COPY
# floor per step, for 10,000 learners x 50 courses (500,000 codes), then for the largest contract
# the product allows, 100,000 learners x 50 courses (5,000,000 codes; BENCH_LARGEST=0 skips it).
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/b2b_bench
BENCH_LARGEST ?= 1
bench: install
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) benchmarks/codes_at_scale.py
	if [ "$(BENCH_LARGEST)" = 1 ]; then BENCH_CODES_LEARNERS=100000 BENCH_CODES_COURSES=50 \
		BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) benchmarks/codes_at_scale.py; fi
	$(MAKE) --no-print-directory bench-check

# b2b_check over 100 contracts, 500,000 codes and 20,000 learners on PostgreSQL: seconds, queries.
BENCH_CHECK_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/b2b_check_bench
bench-check: install
	BENCH_CHECK_DATABASE_URL=$(BENCH_CHECK_DATABASE_URL) $(PY) benchmarks/contract_check.py

# How long a command takes to start: manage.py help, median of 5, and the imports that cost most.
bench-commands: install
	$(PY) benchmarks/commands.py

# Style, the layers and their import rules (import-linter, pyproject.toml), and the types (mypy).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

# Learners redeeming codes through the API on gunicorn + PostgreSQL (benchmarks/checkout.py).
bench-checkout: install
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) benchmarks/checkout.py

# Seats assigned by email in bulk on PostgreSQL: 100, 1,000 and 10,000 emails, seconds and queries.
BENCH_SEATS_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/b2b_seats_bench
bench-seats: install
	BENCH_SEATS_DATABASE_URL=$(BENCH_SEATS_DATABASE_URL) $(PY) benchmarks/seats_assign.py

# The Celery worker with beat in it (-B): beat queues again, every REQUEUE_PENDING_AFTER seconds,
# the code adjustments and Open edX syncs whose task was lost (README "After a crash").
# Run one worker with -B per deployment; more workers without it.
worker: install
	$(VENV)/bin/celery -A main worker -B --loglevel=info

# A local Open edX (LMS token + enrollment, Studio course runs) to point OPENEDX_* at; see README.
EDX_STANDIN_PORT ?= 8060
edx-standin: install
	$(MANAGE) openedx_standin --port $(EDX_STANDIN_PORT)

clean:
	rm -rf $(VENV) db.sqlite3 codes-*.csv
