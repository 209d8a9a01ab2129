# Eventide: `make dev` runs it, `make test` proves it.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PYTHON ?= python3
export DJANGO_SETTINGS_MODULE ?= core.settings
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/eventide

PORT ?= 8000
export FLOWER_PORT ?= 5555
TEST_PROCESSES ?= 2
# One Redis server per test process (core/settings/test.py), started by test-services.
TEST_REDIS_URLS ?= redis://127.0.0.1:6379 redis://127.0.0.1:6479
TEST_REDIS := TEST_REDIS_URLS="$(TEST_REDIS_URLS)"
# The suite never reads the developer's .env (make dev's DEBUG settings): it runs as CI does.
TEST_ENV := DJANGO_ENV_FILE= DATABASE_URL=$(TEST_DATABASE_URL) $(TEST_REDIS)

.PHONY: dev test test-fast test-services lint format install redis migrate lock clean

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

# Development settings for every command run in this checkout (manage.py runserver, daphne, celery):
# DEBUG on, plain http. Written once; an existing .env is never overwritten.
.env:
	@sed "s/^DJANGO_SECRET_KEY=.*/DJANGO_SECRET_KEY=dev-$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(32))')/" .env.example > $@
	@echo "Wrote .env (development settings: DJANGO_DEBUG=true, SQLite). make dev never overwrites it."

# Emails' unsubscribe links point at the address make dev serves, unless the caller or .env set
# SITE_URL (read when dev runs: .env may have just been written).
dev_site_url = $(or $(SITE_URL),$(if $(shell grep -s '^SITE_URL=' .env),,http://127.0.0.1:$(PORT)))

dev: .env install redis migrate
	$(PY) manage.py setup_event_lifecycle_tasks
	$(PY) manage.py load_demo_events
	@echo
	@echo "  Site      http://127.0.0.1:$(PORT)/            (login demo / demo-password)"
	@echo "  Admin     http://127.0.0.1:$(PORT)/admin/"
	@echo "  API docs  http://127.0.0.1:$(PORT)/api/docs/"
	@echo "  Flower    http://127.0.0.1:$(FLOWER_PORT)/"
	@echo "  Ctrl-C stops web, worker, beat and Flower."
	@echo
	@# honcho gives the first process (web) PORT and must not apply .env over the caller's environment
	@# (settings read .env themselves, below it); Ctrl-C ends honcho with 130/143: a clean stop.
	@# Unbuffered: beat prints its banner (broker, scheduler) to a pipe here, held until it exits,
	@# and lost when honcho has to SIGKILL a beat slow to stop.
	@PYTHONUNBUFFERED=1 $(if $(dev_site_url),SITE_URL=$(dev_site_url)) $(BIN)/honcho start -e /dev/null -p $(PORT); rc=$$?; if [ $$rc -eq 130 ] || [ $$rc -eq 143 ]; then echo "Stopped."; else exit $$rc; fi

# PostgreSQL and Redis for the suite: started when installed but not running, else one line.
test-services: install
	@TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(TEST_REDIS) $(PY) scripts/test_services.py

# The whole suite: unit, API, real worker/beat/Daphne processes, browsers, faults. Two processes
# (pytest-xdist, a file's tests stay together), each with its own database and Redis server
# (tests/support/xdist_redis.py, a plugin: `python -m` puts the checkout on sys.path for it).
test: test-services
	$(TEST_ENV) $(BIN)/pytest

# The quick subset while working: no real processes, browsers or faults.
test-fast: test-services
	$(TEST_ENV) $(BIN)/pytest -q -m "not e2e and not browser and not faults"

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
