"""Two real Daphne processes share one quota and one lockout count through CACHE_URL.

Each process kept its own counts before (LocMemCache): two processes gave two quotas.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from django.conf import settings

from apps.events.tests.factories import UserFactory
from tests.support import processes

logger = logging.getLogger(__name__)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ANON_LIMIT = 10


def start_daphnes(count: int, **env: str) -> Iterator[list[str]]:
    environment = processes.child_env(CACHE_URL=settings.CACHE_URL, **env)
    ports = [processes.free_port() for _ in range(count)]
    started = [processes.daphne(environment, port).start() for port in ports]
    try:
        for proc, port in zip(started, ports, strict=True):

            def listening(proc: processes.ManagedProcess = proc, port: int = port) -> bool:
                if proc.proc is not None and proc.proc.poll() is not None:
                    raise AssertionError(f"daphne exited early:\n{proc.output()[-4000:]}")
                return processes.port_open(port)

            processes.wait_for(listening, timeout=60)
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for proc in started:
            proc.stop()


@pytest.fixture
def two_daphnes_with_a_small_anon_rate(transactional_db: None) -> Iterator[list[str]]:
    yield from start_daphnes(2, API_THROTTLE_ANON=f"{ANON_LIMIT}/minute")


@pytest.fixture
def two_daphnes(transactional_db: None) -> Iterator[list[str]]:
    yield from start_daphnes(2)


def test_two_web_processes_share_one_anonymous_quota(
    two_daphnes_with_a_small_anon_rate: list[str],
) -> None:
    servers = two_daphnes_with_a_small_anon_rate
    answered: Counter[tuple[int, int]] = Counter()
    with httpx.Client(timeout=10) as http:
        for n in range(3 * ANON_LIMIT):
            which = n % 2
            response = http.get(f"{servers[which]}/api/events/")
            answered[which, response.status_code] += 1
            if response.status_code == 429:
                assert int(response.headers["Retry-After"]) > 0
                assert isinstance(response.json()["detail"], str)
    logger.info(f"shared quota of {ANON_LIMIT}/minute over 2 processes: {dict(answered)}")
    assert answered[0, 200] + answered[1, 200] == ANON_LIMIT
    assert answered[0, 200] > 0
    assert answered[1, 200] > 0
    assert answered[0, 429] > 0
    assert answered[1, 429] > 0


def test_failed_logins_on_one_process_lock_out_the_other(two_daphnes: list[str]) -> None:
    UserFactory.create(username="ada")
    first, second = two_daphnes
    with httpx.Client(timeout=30) as http:

        def log_in(server: str, password: str) -> httpx.Response:
            return http.post(
                f"{server}/api/auth/token/", json={"username": "ada", "password": password}
            )

        assert [log_in(first, f"guess {n}").status_code for n in range(4)] == [400] * 4
        locked = log_in(second, "guess 5")
        assert locked.status_code == 429
        right = log_in(first, "correct horse battery staple")
    assert right.status_code == 429
    assert right.headers["Content-Type"] == "application/json"
    assert isinstance(right.json()["detail"], str)
    assert int(right.headers["Retry-After"]) == 15 * 60


def test_the_web_login_of_the_other_process_is_locked_out_too(two_daphnes: list[str]) -> None:
    UserFactory.create(username="ada")
    first, second = two_daphnes
    with httpx.Client(timeout=30) as http:
        for n in range(5):
            http.post(f"{first}/api/auth/token/", json={"username": "ada", "password": f"x{n}"})
        page = http.get(f"{second}/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token is not None
        response = http.post(
            f"{second}/accounts/login/",
            data={
                "username": "ada",
                "password": "correct horse battery staple",
                "csrfmiddlewaretoken": token.group(1),
            },
        )
    assert response.status_code == 429
    assert "<h1>Too many failed logins</h1>" in response.text
    assert int(response.headers["Retry-After"]) == 15 * 60
