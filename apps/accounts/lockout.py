"""Lockout after repeated failed logins (django-axes), on every password entry point.

django-axes rather than DRF throttles: it listens to django.contrib.auth's `authenticate()`, so
the API token endpoint, /accounts/login/ and /admin/login/ share one count per username and per
address, kept in the shared cache. Its backend runs first and refuses a locked-out client before
the next backend hashes the password.
"""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework.throttling import BaseThrottle

from core.errors import is_api

MESSAGE = "Too many failed login attempts. Try again in {minutes} minutes."


class LockoutBackend(AxesStandaloneBackend):
    """Axes' check for every request; code without a request (the shell, a management command)
    has no client to count against and is left to the next backend."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)  # type: ignore[no-any-return]


def client_address(request: HttpRequest) -> str:
    """The address DRF's throttles use: X-Forwarded-For only behind TRUSTED_PROXY_COUNT proxies."""
    return str(BaseThrottle().get_ident(request))  # type: ignore[arg-type]  # reads only META


def retry_after_seconds(request: HttpRequest) -> int:
    # Every refused attempt restarts the cool-off (axes' default), so this is exact.
    cool_off = get_cool_off(request)
    return int(cool_off.total_seconds()) if cool_off else 0


def lockout_response(request: HttpRequest, *args: Any) -> HttpResponse:
    """The 429 of a locked-out login: `{"detail"}` under /api/, else a page; with Retry-After.

    Axes calls this from its middleware with different positional arguments in its sync and
    async paths, so only the request is read.
    """
    seconds = retry_after_seconds(request)
    detail = MESSAGE.format(minutes=max(1, round(seconds / 60)))
    response: HttpResponse
    if is_api(request):
        response = JsonResponse({"detail": detail}, status=429)
    else:
        response = render(request, "accounts/locked_out.html", {"detail": detail}, status=429)
    response["Retry-After"] = str(seconds)
    return response
