"""DRF throttles count in the shared cache, per client address as TRUSTED_PROXY_COUNT says."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def one_window() -> Iterator[None]:
    """Counts are kept per fixed window (apps.events.api.throttling): a test that crossed a
    window's end would see its quota again."""
    with time_machine.travel(datetime(2026, 6, 15, 12, 0, 10, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def anon_rate_3(settings: Any) -> None:
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "anon": "3/minute"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


def statuses(headers: list[str]) -> list[int]:
    client = APIClient()
    return [client.get("/api/events/", HTTP_X_FORWARDED_FOR=h).status_code for h in headers]


@pytest.mark.usefixtures("anon_rate_3")
def test_rotating_forwarded_for_is_throttled_as_one_client_without_proxies() -> None:
    assert statuses([f"203.0.113.{n}" for n in range(6)]) == [200, 200, 200, 429, 429, 429]


@pytest.mark.usefixtures("anon_rate_3")
def test_behind_one_proxy_each_forwarded_address_has_its_own_quota(settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    assert statuses([f"203.0.113.{n}" for n in range(6)]) == [200] * 6
    # A client cannot choose its address: only the one the proxy appended counts.
    spoofed = [f"198.51.100.{n}, 203.0.113.9" for n in range(4)]
    assert statuses(spoofed) == [200, 200, 200, 429]


def test_the_default_cache_is_redis_db_3_of_redis_url(settings: Any) -> None:
    cache = settings.CACHES["default"]
    assert cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert cache["LOCATION"] == settings.REDIS_URL.rstrip("/") + "/3"
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == settings.TRUSTED_PROXY_COUNT == 0
