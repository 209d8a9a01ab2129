"""/healthz and `manage.py healthcheck` against real PostgreSQL and Redis, and dead ones."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import cast

import httpx
import pytest
import websockets
from django.test import Client, override_settings
from websockets.typing import Origin

from core import health
from tests.support import processes

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    return processes.free_port()


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port that accepts TCP connections and never answers: a hung dependency."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def redis_layers(url: str) -> dict:
    return {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [url]}}
    }


def test_healthz_is_ok_when_database_broker_and_channel_layer_answer(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "channel_layer": "ok", "scheduler": "ok"},
    }
    assert "no-cache" in response["Cache-Control"]


def test_healthz_is_503_naming_the_broker_when_it_is_unreachable(client: Client) -> None:
    with override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{closed_port()}/1"):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["down"] == ["broker"]
    assert body["checks"] == {
        "database": "ok",
        "broker": "error",
        "channel_layer": "ok",
        "scheduler": "ok",
    }


def test_healthz_is_503_naming_the_channel_layer_when_its_redis_is_unreachable(
    client: Client,
) -> None:
    with override_settings(CHANNEL_LAYERS=redis_layers(f"redis://127.0.0.1:{closed_port()}/0")):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["channel_layer"]


def test_a_hung_dependency_costs_the_timeout_not_more(black_hole: int) -> None:
    hung = f"redis://127.0.0.1:{black_hole}/1"
    with override_settings(CELERY_BROKER_URL=hung, CHANNEL_LAYERS=redis_layers(hung)):
        started = time.monotonic()
        results = health.run_checks(timeout=1.0)
        elapsed = time.monotonic() - started
    assert results["database"] == "ok"
    assert results["broker"] in {"error", "timeout"}
    assert results["channel_layer"] in {"error", "timeout"}
    assert elapsed < 5, f"checks took {elapsed:.1f}s with a 1s timeout"


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=processes.REPO,
        env=processes.child_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_healthcheck_command_exits_0_when_ready(transactional_db: None) -> None:
    result = manage("healthcheck")
    assert result.returncode == 0, result.stderr
    assert '"status": "ok"' in result.stdout


def test_healthcheck_command_exits_1_naming_the_database_when_it_is_down(
    transactional_db: None,
) -> None:
    result = manage(
        "healthcheck", DATABASE_URL=f"postgres://postgres@127.0.0.1:{closed_port()}/eventide"
    )
    assert result.returncode == 1
    assert '"down": ["database"]' in result.stdout


def test_healthcheck_only_checks_what_it_is_asked(transactional_db: None) -> None:
    dead_redis = f"redis://127.0.0.1:{closed_port()}"
    assert manage("healthcheck", "--only", "database", REDIS_URL=dead_redis).returncode == 0
    assert manage("healthcheck", "--only", "broker", REDIS_URL=dead_redis).returncode == 1
    assert manage("healthcheck", "--only", "nonsense").returncode != 0


def first_healthz_answer(base: str) -> httpx.Response:
    """The first answer of a server that is starting (any status)."""

    def answered() -> httpx.Response | None:
        try:
            return httpx.get(f"{base}/healthz", timeout=10)
        except httpx.TransportError:
            return None

    return cast(httpx.Response, processes.wait_for(answered, timeout=60, interval=0.2))


@pytest.mark.e2e
def test_daphne_answers_503_naming_the_database_and_probes_are_not_redirected_to_https(
    transactional_db: None,
) -> None:
    """Production security on (DJANGO_SECURE): pages redirect to https, /healthz answers on http."""
    port = processes.free_port()
    env = processes.child_env(
        DJANGO_SECURE="true",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{closed_port()}/eventide",
    )
    daphne = processes.ManagedProcess(
        "daphne",
        [
            str(processes.VENV_BIN / "daphne"),
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "core.asgi:application",
        ],
        env,
    ).start()
    try:
        base = f"http://127.0.0.1:{port}"

        response = first_healthz_answer(base)
        assert response.status_code == 503
        assert response.json()["down"] == ["database"]
        assert response.json()["checks"]["broker"] == "ok"
        page = httpx.get(f"{base}/admin/", timeout=10)
        assert page.status_code == 301
        assert page.headers["location"].startswith("https://")
        command = manage("healthcheck", "--url", f"{base}/healthz")
        assert command.returncode == 1
        assert '"http_status": 503' in command.stdout
    finally:
        daphne.stop()


@pytest.mark.e2e
def test_healthz_stays_200_while_websockets_are_open_on_the_same_daphne(
    transactional_db: None,
) -> None:
    """Consumers receive on Daphne's loop; the check must use a layer instance of its own."""
    port = processes.free_port()
    daphne = processes.daphne(processes.child_env(), port).start()
    try:
        base = f"http://127.0.0.1:{port}"

        first_healthz_answer(base)

        async def probe_with_sockets_open() -> list[int]:
            sockets = [
                await websockets.connect(f"ws://127.0.0.1:{port}/ws/events/", origin=Origin(base))
                for _ in range(3)
            ]
            try:
                await asyncio.sleep(0.5)
                loop = asyncio.get_running_loop()
                statuses = []
                for _ in range(5):
                    response = await loop.run_in_executor(
                        None, lambda: httpx.get(f"{base}/healthz", timeout=10)
                    )
                    statuses.append(response.status_code)
                return statuses
            finally:
                for sock in sockets:
                    await sock.close()

        assert asyncio.run(probe_with_sockets_open()) == [200] * 5
    finally:
        daphne.stop()
