"""Fault-injection fixtures: each test gets its own Redis and a database link it can cut."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from tests.support import processes
from tests.support.faults import RedisServer, TcpProxy


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def db_proxy(transactional_db: None) -> Iterator[TcpProxy]:
    settings = connection.settings_dict
    proxy = TcpProxy(settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432)).start()
    yield proxy
    proxy.cut()


@pytest.fixture
def fault_env(redis_server: RedisServer, db_proxy: TcpProxy) -> dict[str, str]:
    """Environment of the worker/beat under test: private Redis, database through the proxy."""
    direct = processes.test_database_url()
    host, port = db_proxy.target
    through_proxy = direct.replace(f"@{host}:{port}/", f"@127.0.0.1:{db_proxy.port}/")
    assert through_proxy != direct
    return processes.child_env(
        DATABASE_URL=through_proxy,
        REDIS_URL=redis_server.url,
        CELERY_BROKER_URL=f"{redis_server.url}/1",
        CHANNEL_LAYER_URL=f"{redis_server.url}/0",
    )


def send_task(env: dict[str, str], name: str, **options: Any) -> str:
    """Publish task `name` to the broker of `env` (the private Redis), return its id."""
    from core.celery import app

    with app.connection_for_write(env["CELERY_BROKER_URL"]) as conn:
        return str(app.send_task(name, connection=conn, **options).id)
