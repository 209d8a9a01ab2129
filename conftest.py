"""Fixtures shared by every test: factories, real worker and beat processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import processes


def pytest_sessionstart(session: pytest.Session) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.exit(
            "The suite runs against PostgreSQL: use `make test`, or set DATABASE_URL=postgres://...",
            returncode=2,
        )


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
