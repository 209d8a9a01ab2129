"""The database pool: a bounded number of connections per web process, and an exhausted pool
answers 503 with Retry-After instead of making the request wait for a connection."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

from apps.accounts import tokens
from apps.events.tests.factories import EventFactory, UserFactory
from tests.support import processes

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
POOL_SIZE = 2


def web_connections(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name = 'eventide-pool-test'"
    ).fetchone()
    return int(row[0]) if row else 0


def test_an_exhausted_pool_answers_503_with_retry_after_while_its_connections_are_held() -> None:
    EventFactory.create_batch(3)
    key = tokens.issue(UserFactory.create()).key
    port = processes.free_port()
    env = processes.child_env(
        DATABASE_POOL_MAX=str(POOL_SIZE),
        DATABASE_POOL_MIN="1",
        DATABASE_POOL_TIMEOUT="0.5",
        PGAPPNAME="eventide-pool-test",
    )
    daphne = processes.daphne(env, port).start()
    url = processes.test_database_url().replace("postgres://", "postgresql://")
    base = f"http://127.0.0.1:{port}"
    with (
        psycopg.connect(url, autocommit=True) as observer,
        psycopg.connect(url) as locker,
        ThreadPoolExecutor(4) as pool,
    ):
        try:
            processes.wait_for(lambda: processes.port_open(port), 60)
            assert httpx.get(f"{base}/api/events/", timeout=10).status_code == 200

            # Two requests wait on a lock, each holding one of the pool's two connections.
            locker.execute("LOCK TABLE events_event IN ACCESS EXCLUSIVE MODE")
            held = [
                pool.submit(httpx.get, f"{base}/api/events/", timeout=60) for _ in range(POOL_SIZE)
            ]
            processes.wait_for(
                lambda: observer.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND application_name = 'eventide-pool-test'"
                ).fetchone()
                == (POOL_SIZE,),
                30,
            )

            busy = httpx.get(f"{base}/api/events/", timeout=30)
            page = httpx.get(f"{base}/", timeout=30)
            # Token auth reads the database in the view (DRF's authentication), not in a
            # middleware: the same 503.
            authed = httpx.get(
                f"{base}/api/events/mine/", headers={"Authorization": f"Token {key}"}, timeout=30
            )
            # Answered while the connections were still held: nothing was waiting for them.
            assert not any(request.done() for request in held)
            assert web_connections(observer) <= POOL_SIZE
            locker.rollback()

            assert busy.status_code == 503
            assert busy.headers["Retry-After"] == "1"
            assert busy.json() == {"detail": "The server is busy, try again shortly."}
            assert page.status_code == 503
            assert page.headers["Retry-After"] == "1"
            assert authed.status_code == 503, authed.text[:200]
            assert authed.headers["Retry-After"] == "1"
            assert authed.json() == {"detail": "The server is busy, try again shortly."}
            assert [request.result().status_code for request in held] == [200] * POOL_SIZE
            assert httpx.get(f"{base}/api/events/", timeout=10).status_code == 200
            assert web_connections(observer) <= POOL_SIZE
        finally:
            locker.rollback()
            daphne.stop()
