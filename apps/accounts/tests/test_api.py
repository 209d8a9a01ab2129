"""/api/auth/ (CONTRACT §4): register, token, logout, me; through DRF's test client."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast

import pytest
import time_machine
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from apps.accounts.models import Profile
from apps.events.tests.factories import UserFactory
from tests.support.api import assert_error
from tests.support.auth import token_for

pytestmark = pytest.mark.django_db

new_user = cast(Callable[..., Any], UserFactory)
PASSWORD = "correct horse battery staple"


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


def with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def register(client: APIClient, username: str, password: str, **extra: Any) -> Any:
    body = {"username": username, "email": f"{username}@example.com", "password": password}
    return client.post("/api/auth/register/", {**body, **extra}, format="json")


# --- register ------------------------------------------------------------------------------------


def test_register_returns_id_username_and_a_working_token(anon: APIClient) -> None:
    response = register(anon, "ada", "an unguessable phrase")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "username", "token"}
    assert body["username"] == "ada"
    assert with_token(body["token"]).get("/api/events/mine/").status_code == 200


def test_register_refuses_taken_name_weak_password_and_unknown_fields(anon: APIClient) -> None:
    new_user(username="ada")
    assert_error(register(anon, "ADA", "an unguessable phrase"), 400, "username")
    assert_error(register(anon, "bob", "password"), 400, "password")
    extra = register(anon, "cy", "an unguessable phrase", is_staff=True)
    assert assert_error(extra, 400, "is_staff")["is_staff"] == ["Unknown field."]


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("        ", "only whitespace"),
        ("password1", "too common"),
        ("ada@example.com", "too similar"),
        ("short", "too short"),
        ("4815162342", "entirely numeric"),
    ],
)
def test_register_applies_djangos_password_validators(
    anon: APIClient, password: str, why: str
) -> None:
    body = assert_error(register(anon, "ada", password), 400, "password")
    assert any(why in message for message in body["password"]), body
    assert not Profile.objects.exists()


# --- token ---------------------------------------------------------------------------------------


def test_token_for_good_credentials_and_400_with_a_string_detail_for_bad_ones(
    anon: APIClient,
) -> None:
    new_user(username="ada")
    good = anon.post("/api/auth/token/", {"username": "ada", "password": PASSWORD}, format="json")
    assert good.status_code == 200, good.content
    body = good.json()
    assert set(body) == {"token", "expires_at"}
    assert with_token(body["token"]).get("/api/events/mine/").status_code == 200
    bad = anon.post("/api/auth/token/", {"username": "ada", "password": "nope"}, format="json")
    assert assert_error(bad, 400) == {"detail": "Unable to log in with the provided credentials."}


def test_each_login_is_a_new_token_expiring_after_api_token_ttl_days(anon: APIClient) -> None:
    new_user(username="ada")
    credentials = {"username": "ada", "password": PASSWORD}
    first = anon.post("/api/auth/token/", credentials, format="json").json()
    second = anon.post("/api/auth/token/", credentials, format="json").json()
    assert first["token"] != second["token"]
    expires_at = parse_datetime(first["expires_at"])
    assert expires_at is not None
    assert expires_at.utcoffset() is not None
    assert abs(expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)


def test_api_token_ttl_days_sets_the_lifetime(anon: APIClient, settings: Any) -> None:
    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_TTL": timedelta(days=2)}
    new_user(username="ada")
    body = anon.post(
        "/api/auth/token/", {"username": "ada", "password": PASSWORD}, format="json"
    ).json()
    expires_at = parse_datetime(body["expires_at"])
    assert expires_at is not None
    assert abs(expires_at - (timezone.now() + timedelta(days=2))) < timedelta(minutes=1)


def test_a_token_works_until_it_expires_then_is_401() -> None:
    user = new_user(username="ada")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        key = token_for(user)
        clock.shift(timedelta(days=30) - timedelta(minutes=1))
        assert with_token(key).get("/api/auth/me/").status_code == 200
        clock.shift(timedelta(minutes=2))
        assert_error(with_token(key).get("/api/auth/me/"), 401)
        assert_error(with_token(key).get("/api/events/"), 401)


# --- logout --------------------------------------------------------------------------------------


def test_logout_revokes_only_the_token_used() -> None:
    user = new_user(username="ada")
    used, other = token_for(user), token_for(user)
    response = with_token(used).post("/api/auth/logout/")
    assert response.status_code == 204, response.content
    assert_error(with_token(used).get("/api/auth/me/"), 401)
    assert_error(with_token(used).post("/api/auth/logout/"), 401)
    assert with_token(other).get("/api/auth/me/").status_code == 200


def test_logout_needs_a_token(anon: APIClient) -> None:
    assert_error(anon.post("/api/auth/logout/"), 401)


def test_a_nul_byte_in_the_token_header_is_a_json_400_naming_the_header() -> None:
    """NUL bytes are refused before authentication, in every header (core/errors.py)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "\x00" * 64)
    response = client.get("/api/events/")
    assert_error(response, 400)
    assert "Authorization" in response.json()["detail"]


@pytest.mark.parametrize(
    "header",
    [
        "Token " + "\xff" * 64,
        "Token " + "é" * 10,
        "Token " + "0" * 40,
        "Token " + "A" * 64,
        "Token",
        "Token a b",
    ],
)
def test_malformed_tokens_are_a_json_401(header: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert_error(client.get("/api/events/"), 401)


# --- me ------------------------------------------------------------------------------------------


def test_me_shows_the_account_with_default_preferences() -> None:
    user = new_user(username="ada")
    response = with_token(token_for(user)).get("/api/auth/me/")
    assert response.status_code == 200
    assert response.json() == {
        "id": user.pk,
        "username": "ada",
        "email": "ada@example.com",
        "timezone": "Europe/London",
        "email_messages": True,
        "calendar_url": f"http://testserver/calendars/{user.profile.calendar_token}.ics",
    }
    assert Profile.objects.filter(user=user).count() == 1


def test_me_patch_stores_timezone_email_messages_and_email() -> None:
    user = new_user(username="ada")
    client = with_token(token_for(user))
    response = client.patch(
        "/api/auth/me/",
        {"timezone": "America/New_York", "email_messages": False, "email": "a@example.org"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["timezone"], body["email_messages"], body["email"]) == (
        "America/New_York",
        False,
        "a@example.org",
    )
    profile = Profile.objects.get(user=user)
    assert (profile.timezone, profile.email_messages) == ("America/New_York", False)
    assert client.get("/api/auth/me/").json() == body
    user.refresh_from_db()
    assert user.email == "a@example.org"


@pytest.mark.parametrize(
    "zone", ["Mars/Olympus_Mons", "europe/london", "../../etc/passwd", "\x00", "", "UTC+1", 5]
)
def test_me_patch_refuses_unknown_timezones_naming_the_field(zone: object) -> None:
    client = with_token(token_for(new_user(username="ada")))
    assert_error(client.patch("/api/auth/me/", {"timezone": zone}, format="json"), 400, "timezone")
    assert client.get("/api/auth/me/").json()["timezone"] == "Europe/London"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"username": "root"}, "username", "This field is read-only."),
        ({"id": 1}, "id", "This field is read-only."),
        ({"calendar_url": "http://x"}, "calendar_url", "This field is read-only."),
        ({"is_staff": True}, "is_staff", "Unknown field."),
        ({"email_messages": "yes"}, "email_messages", "Must be true or false."),
        ({"email": "not an email"}, "email", "Enter a valid email address."),
    ],
)
def test_me_patch_refuses_readonly_unknown_and_invalid_fields(
    body: dict[str, Any], field: str, message: str
) -> None:
    user = new_user(username="ada")
    client = with_token(token_for(user))
    errors = assert_error(client.patch("/api/auth/me/", body, format="json"), 400, field)
    assert errors[field] == [message]
    user.refresh_from_db()
    assert (user.username, user.is_staff) == ("ada", False)


def test_me_needs_a_user(anon: APIClient) -> None:
    assert_error(anon.get("/api/auth/me/"), 401)
    assert_error(anon.patch("/api/auth/me/", {"timezone": "UTC"}, format="json"), 401)


def test_me_works_with_a_session_too() -> None:
    user = new_user(username="ada")
    client = APIClient()
    client.force_login(user)
    assert client.get("/api/auth/me/").json()["username"] == "ada"


# --- schema --------------------------------------------------------------------------------------


def test_schema_describes_the_account_endpoints() -> None:
    schema = APIClient().get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    calendar_url = components["Me"]["properties"]["calendar_url"]
    assert (calendar_url["type"], calendar_url["format"]) == ("string", "uri")
    assert "nullable" not in calendar_url
    assert set(components["Me"]["required"]) == {
        "id",
        "username",
        "email",
        "timezone",
        "email_messages",
        "calendar_url",
    }
    assert "required" not in components["PatchedMeRequest"]
    assert {"token", "expires_at"} <= set(components["Token"]["properties"])
    assert components["PatchedMeRequest"]["additionalProperties"] is False
    assert "username" not in components["PatchedMeRequest"]["properties"]
    logout = schema["paths"]["/api/auth/logout/"]["post"]
    # 400 and 403 are on every operation (NUL guard, CSRF of session clients).
    assert set(logout["responses"]) == {"204", "400", "401", "403", "429"}
    assert schema["components"]["securitySchemes"]["tokenAuth"]["name"] == "Authorization"
