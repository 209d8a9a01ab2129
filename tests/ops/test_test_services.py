"""`make test` on a machine where PostgreSQL and Redis are installed but not running."""

from __future__ import annotations

import contextlib
import glob
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from tests.support import processes

pytestmark = pytest.mark.e2e

SCRIPT = processes.REPO / "scripts" / "test_services.py"


def run(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(processes.VENV_BIN / "python"), str(SCRIPT)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def free_ports() -> Iterator[tuple[int, int]]:
    pg_port, redis_port = processes.free_port(), processes.free_port()
    yield pg_port, redis_port
    for data in glob.glob(f"/tmp/eventide-test-pg-{pg_port}-*"):
        pg_ctl = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[-1]
        argv = [pg_ctl, "-D", data, "stop", "-m", "immediate"]
        subprocess.run(["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv)
    with contextlib.suppress(redis.RedisError):
        redis.Redis(port=redis_port).shutdown(nosave=True)


def test_stopped_postgres_and_redis_are_started(free_ports: tuple[int, int]) -> None:
    pg_port, redis_port = free_ports
    pg_url = f"postgres://postgres@127.0.0.1:{pg_port}/eventide"
    done = run(TEST_DATABASE_URL=pg_url, REDIS_URL=f"redis://127.0.0.1:{redis_port}")
    assert done.returncode == 0, done.stderr
    assert f"PostgreSQL on port {pg_port}" in done.stdout
    assert f"redis-server on port {redis_port}" in done.stdout
    with psycopg.connect(pg_url, dbname="postgres") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert redis.Redis(port=redis_port).ping()
    again = run(TEST_DATABASE_URL=pg_url, REDIS_URL=f"redis://127.0.0.1:{redis_port}")
    assert (again.returncode, again.stdout) == (0, "")


def test_missing_postgres_stops_at_once_with_one_line(tmp_path: Path) -> None:
    done = run(
        TEST_DATABASE_URL=f"postgres://postgres@127.0.0.1:{processes.free_port()}/eventide",
        PG_BINDIR=str(tmp_path),
        PATH=str(tmp_path),
    )
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "apt-get install postgresql" in done.stderr


def test_missing_redis_stops_at_once_with_one_line(tmp_path: Path) -> None:
    done = run(REDIS_URL=f"redis://127.0.0.1:{processes.free_port()}", PATH=str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "make test: Redis is not running and not installed: apt-get install redis-server"
    )
