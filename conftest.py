"""Fixtures shared by every test: plain-http settings, an empty cache, real worker and beat
processes. Factories live in apps/events/tests/factories.py."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.conf import settings

from tests.support import processes

# Tests speak plain http (test client, Daphne on 127.0.0.1): no HTTPS redirect or secure-only
# cookies, here (settings are already loaded) and in child processes (child_env copies os.environ).
os.environ["DJANGO_SECURE"] = "false"
settings.SECURE_SSL_REDIRECT = False
settings.SESSION_COOKIE_SECURE = False
settings.CSRF_COOKIE_SECURE = False


def pytest_sessionstart(session: pytest.Session) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.exit(
            "The suite runs against PostgreSQL: use `make test`, or set DATABASE_URL=postgres://...",
            returncode=2,
        )


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    """Rate-limit and lockout counts live in the shared Redis cache: each test starts at zero."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def purged_broker() -> None:
    """An empty broker queue, so no message left by an earlier run reaches this test's worker."""
    from core.celery import app

    app.control.purge()


@pytest.fixture
def worker_process(
    transactional_db: None, purged_broker: None
) -> Iterator[processes.ManagedProcess]:
    proc = processes.worker(processes.child_env()).start()
    proc.wait_for_output("ready.", timeout=60)
    yield proc
    proc.stop()


@pytest.fixture
def beat_process(transactional_db: None) -> Iterator[processes.ManagedProcess]:
    proc = processes.beat(processes.child_env()).start()
    proc.wait_for_output("beat: Starting", timeout=60)
    yield proc
    proc.stop()
