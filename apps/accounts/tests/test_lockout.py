"""Lockout after repeated failed logins on every password entry point, and the client address.

Counts live in the shared Redis cache (conftest empties it before each test).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast
from unittest import mock

import pytest
from django.contrib.auth.backends import ModelBackend
from django.test import Client
from rest_framework.test import APIClient

from apps.events.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

new_user = cast(Callable[..., Any], UserFactory)
PASSWORD = "correct horse battery staple"
LIMIT = 5  # AXES_FAILURE_LIMIT's default
COOL_OFF_SECONDS = 15 * 60


@dataclass(frozen=True)
class EntryPoint:
    name: str
    path: str
    succeeded: Callable[[Any], bool]
    refused: Callable[[Any], bool]

    def attempt(self, username: str, password: str, address: str = "127.0.0.1") -> Any:
        credentials = {"username": username, "password": password}
        if self.path.startswith("/api/"):
            return APIClient(REMOTE_ADDR=address).post(self.path, credentials, format="json")
        return Client(REMOTE_ADDR=address).post(self.path, credentials)


def page_refused(response: Any) -> bool:
    return response.status_code == 200 and b"correct username and password" in response.content


ENTRY_POINTS = [
    EntryPoint(
        "api token",
        "/api/auth/token/",
        succeeded=lambda r: r.status_code == 200 and "token" in r.json(),
        refused=lambda r: r.status_code == 400,
    ),
    EntryPoint(
        "web login",
        "/accounts/login/",
        succeeded=lambda r: r.status_code == 302 and r["Location"] == "/",
        refused=page_refused,
    ),
    EntryPoint(
        "admin login",
        "/admin/login/?next=/admin/",
        succeeded=lambda r: r.status_code == 302 and r["Location"] == "/admin/",
        refused=page_refused,
    ),
]


def assert_locked_out(entry: EntryPoint, response: Any) -> None:
    assert response.status_code == 429, (entry.name, response.status_code, response.content[:200])
    assert int(response["Retry-After"]) == COOL_OFF_SECONDS
    if entry.path.startswith("/api/"):
        body = response.json()
        assert set(body) == {"detail"}
        assert isinstance(body["detail"], str)
        assert "Try again in 15 minutes" in body["detail"]
    else:
        assert response["Content-Type"].startswith("text/html")
        assert b"<h1>Too many failed logins</h1>" in response.content


@pytest.fixture(params=ENTRY_POINTS, ids=lambda e: e.name)
def entry(request: pytest.FixtureRequest) -> EntryPoint:
    return cast(EntryPoint, request.param)


def test_forty_wrong_passwords_then_the_right_one_is_429_with_retry_after(
    entry: EntryPoint,
) -> None:
    new_user(username="ada", is_staff=True)
    responses = [entry.attempt("ada", f"guess {n}") for n in range(40)]
    assert all(entry.refused(r) for r in responses[: LIMIT - 1])
    for response in responses[LIMIT - 1 :]:
        assert_locked_out(entry, response)
    assert_locked_out(entry, entry.attempt("ada", PASSWORD))
    # Another user from another address is not affected.
    new_user(username="bob", is_staff=True)
    assert entry.succeeded(entry.attempt("bob", PASSWORD, address="10.0.0.2"))


def test_the_three_entry_points_share_one_count(entry: EntryPoint) -> None:
    new_user(username="ada", is_staff=True)
    others = [e for e in ENTRY_POINTS if e is not entry]
    for n in range(LIMIT - 1):
        assert others[n % 2].refused(others[n % 2].attempt("ada", f"guess {n}"))
    assert_locked_out(entry, entry.attempt("ada", "one more guess"))


def test_a_username_is_locked_out_whatever_the_address(entry: EntryPoint) -> None:
    new_user(username="ada", is_staff=True)
    for n in range(LIMIT):
        entry.attempt("ada", "wrong", address=f"10.0.1.{n}")
    assert_locked_out(entry, entry.attempt("ada", PASSWORD, address="10.0.2.1"))


def test_an_address_is_locked_out_whatever_the_username(entry: EntryPoint) -> None:
    new_user(username="ada", is_staff=True)
    for n in range(LIMIT):
        entry.attempt(f"nobody{n}", "wrong", address="10.0.3.1")
    assert_locked_out(entry, entry.attempt("ada", PASSWORD, address="10.0.3.1"))
    assert entry.succeeded(entry.attempt("ada", PASSWORD, address="10.0.3.2"))


def test_a_locked_out_attempt_is_refused_before_any_password_is_hashed() -> None:
    new_user(username="ada")
    api = ENTRY_POINTS[0]
    with mock.patch.object(
        ModelBackend, "authenticate", autospec=True, side_effect=ModelBackend.authenticate
    ) as checked:
        for n in range(LIMIT):
            api.attempt("ada", f"guess {n}")
        assert checked.call_count == LIMIT
        for _ in range(20):
            assert api.attempt("ada", PASSWORD).status_code == 429
        assert checked.call_count == LIMIT


def test_fewer_failures_than_the_limit_do_not_lock_out(entry: EntryPoint) -> None:
    new_user(username="ada", is_staff=True)
    for n in range(LIMIT - 1):
        entry.attempt("ada", f"guess {n}")
    assert entry.succeeded(entry.attempt("ada", PASSWORD))


def test_the_limit_comes_from_settings(settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    new_user(username="ada")
    api = ENTRY_POINTS[0]
    assert api.attempt("ada", "wrong").status_code == 400
    assert api.attempt("ada", "wrong").status_code == 429


# --- the client address: X-Forwarded-For only behind TRUSTED_PROXY_COUNT proxies ---------------


def test_a_spoofed_forwarded_for_does_not_escape_the_address_lockout_without_proxies() -> None:
    new_user(username="ada")
    api = APIClient()
    for n in range(LIMIT):
        api.post(
            "/api/auth/token/",
            {"username": f"nobody{n}", "password": "wrong"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        )
    locked = api.post(
        "/api/auth/token/",
        {"username": "ada", "password": PASSWORD},
        format="json",
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    assert locked.status_code == 429


def test_behind_one_proxy_the_address_it_appended_is_the_client(settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    new_user(username="ada")
    api = APIClient()
    for n in range(LIMIT):
        # What the client wrote comes first; the proxy appended the address it saw.
        api.post(
            "/api/auth/token/",
            {"username": f"nobody{n}", "password": "wrong"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}, 198.51.100.1",
        )

    def log_in_from(forwarded_for: str) -> int:
        response = api.post(
            "/api/auth/token/",
            {"username": "ada", "password": PASSWORD},
            format="json",
            HTTP_X_FORWARDED_FOR=forwarded_for,
        )
        return int(response.status_code)

    assert log_in_from("198.51.100.1") == 429
    assert log_in_from("198.51.100.2") == 200
