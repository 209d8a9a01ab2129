# Eventide: `make dev` runs it, `make test` proves it.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PYTHON ?= python3
export DJANGO_SETTINGS_MODULE ?= core.settings
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/eventide

.PHONY: dev test lint format install redis migrate lock clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q 'pip==25.2'  # pip-tools 7.5 breaks on pip >= 25.3
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed

redis: install
	@$(PY) scripts/ensure_redis.py

migrate: install
	$(PY) manage.py migrate --noinput

dev: export DJANGO_DEBUG ?= true
dev: install redis migrate
	$(PY) manage.py setup_event_lifecycle_tasks
	$(PY) manage.py load_demo_events
	@echo "Site http://127.0.0.1:8000/  admin http://127.0.0.1:8000/admin/  (login demo / demo-password)"
	$(BIN)/honcho start

test: install
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/mypy .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Regenerate the pinned files after editing pyproject.toml.
lock: install
	$(BIN)/pip-compile -q --strip-extras --no-header --no-emit-index-url --no-emit-find-links -o requirements.txt pyproject.toml
	$(BIN)/pip-compile -q --strip-extras --no-header --no-emit-index-url --no-emit-find-links --extra dev -o requirements-dev.txt pyproject.toml

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .mypy_cache .ruff_cache

# Benchmarks (bench/): ratios against baselines measured in the same run. The bench database is
# truncated and refilled: never point it at a database that matters.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/eventide_bench
.PHONY: bench bench-smoke

# Full sizes (1M events, 1,000 sockets, 10,000 reminders); writes bench/BENCHMARKS.md.
bench: install
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) bench/run.py

# Tiny sizes, under a minute: fails only when the benchmark code is broken, never on a target.
bench-smoke: install
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) bench/run.py --smoke
