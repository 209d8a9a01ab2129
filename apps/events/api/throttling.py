"""Throttles: DRF's rates (`N/period`, read per request so settings and tests can change them),
counted in fixed windows with one Redis round trip per request.

DRF's SimpleRateThrottle keeps the time of every request of the period in one cached list, read
and written back whole by each request: at the default 100,000/hour a busy client's list grows
to 100,000 floats, unpickled and pickled again on every request, and two round trips. Here each
(scope, client, window) is one integer: INCR, and EXPIRE on the window's first request, sent
together. A fixed window lets a client spend its quota at the end of one window and again at the
start of the next (twice the rate for a moment at most); that is the price of O(1).
"""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle


def _rate(scope: str | None) -> str | None:
    # DRF copies the rates into a class attribute at import; api_settings follows changes.
    rate = api_settings.DEFAULT_THROTTLE_RATES.get(scope or "")
    return None if rate is None else str(rate)


def count_in_window(key: str, seconds: int) -> int:
    """This request's number in the current window of `key` (1 for the first)."""
    full_key = cache.make_key(key)
    # The cache's own Redis client and connection pool (the default cache is Redis, settings).
    client = cache._cache.get_client(full_key, write=True)  # type: ignore[attr-defined]
    with client.pipeline(transaction=False) as pipe:
        pipe.incr(full_key)
        pipe.expire(full_key, seconds + 1, nx=True)
        count, _ = pipe.execute()
    return int(count)


class FixedWindowThrottle(SimpleRateThrottle):
    """SimpleRateThrottle's rates and client identity, counted per fixed window."""

    wait_seconds: float = 0.0

    def get_rate(self) -> str | None:
        return _rate(self.scope)

    def allow_request(self, request: Request, view: Any) -> bool:
        limit, seconds = self.parse_rate(self.rate)
        if limit is None or seconds is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = time.time()
        window = int(now // seconds)
        if count_in_window(f"{key}:{window}", seconds) <= limit:
            return True
        self.wait_seconds = (window + 1) * seconds - now
        return False

    def wait(self) -> float:
        return self.wait_seconds


class AnonThrottle(FixedWindowThrottle, AnonRateThrottle):
    """Anonymous requests, per client address (TRUSTED_PROXY_COUNT says which)."""


class UserThrottle(FixedWindowThrottle, UserRateThrottle):
    """Signed-in requests, per user. Anonymous ones are AnonThrottle's alone: DRF's
    UserRateThrottle counted them by address too, a second counter for the same request."""

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not (request.user and request.user.is_authenticated):
            return None
        return super().get_cache_key(request, view)
