"""No 500 from what a client sends (CONTRACT §4): bodies the parser cannot read are a 400, a NUL
byte in a query string or a header is a 400 naming what held it, one in a cookie is ignored, and
what is left of server errors answers in JSON under /api/ and in HTML elsewhere."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, re_path
from rest_framework.test import APIClient

from apps.events.tests.factories import EventFactory, UserFactory
from core.urls import handler400, handler500

pytestmark = pytest.mark.django_db


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


# This module is also the URLconf of the 500 tests: the site plus a view that raises.
urlpatterns = [
    re_path(r"^api/boom/$", boom),
    re_path(r"^boom/$", boom),
    re_path(r"", include("core.urls")),
]
__all__ = ["handler400", "handler500"]


def assert_json_400(response: Any, *keys: str) -> dict[str, Any]:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(keys or ["detail"]) <= set(body), body
    return body


DEEP = [b"[" * 100_000, b'{"a":' * 100_000, b"[" * 5_000 + b"]" * 5_000]


@pytest.mark.parametrize("body", DEEP, ids=["arrays", "objects", "balanced"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/events/"),
        ("PATCH", "/api/events/{id}/"),
        ("POST", "/api/auth/register/"),
        ("POST", "/api/auth/token/"),
    ],
)
def test_deeply_nested_json_is_a_400_not_a_recursion_error(
    body: Any, method: str, path: str
) -> None:
    organizer = UserFactory.create()
    event = EventFactory.create(organizer=organizer)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(organizer)
    response = client.generic(
        method, path.format(id=event.pk), body, content_type="application/json"
    )
    assert isinstance(assert_json_400(response)["detail"], str)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"title": "\xff\xfe"}', "application/json"),
        ('{"title": "x"}'.encode("utf-16"), "application/json"),
        (b"\xef\xbb\xbf{}", "application/json"),
        (b"hello", "application/json"),
        (b"hello", "application/json; charset=no-such-charset"),
    ],
)
def test_bodies_the_parser_cannot_read_are_a_400(body: Any, content_type: str) -> None:
    user = UserFactory.create()
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(user)
    response = client.generic("POST", "/api/events/", body, content_type=content_type)
    assert_json_400(response)


@pytest.fixture
def raising_site(settings: Any) -> Client:
    settings.ROOT_URLCONF = __name__
    settings.DEBUG = False
    return Client(raise_request_exception=False)


def test_a_server_error_under_api_is_json(raising_site: Client) -> None:
    response = raising_site.get("/api/boom/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"detail"}


def test_a_server_error_on_a_page_is_html(raising_site: Client) -> None:
    response = raising_site.get("/boom/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


def test_a_bad_request_under_api_is_json(client: Client) -> None:
    assert_json_400(client.get("/api/events/", HTTP_HOST="bad\x00host"))
    assert client.get("/", HTTP_HOST="bad\x00host").status_code == 400


@pytest.mark.parametrize(
    "page", ["/?q=%00", "/?page=1%00", "/events/mine/?completed=%00", "/accounts/login/?next=%00"]
)
def test_a_nul_byte_in_a_page_query_string_is_a_400(page: str) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory.create())
    response = client.get(page)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("q=%00", "q"),
        ("status=CONFIRMED&status=%00", "status"),
        ("starts_after=%00", "starts_after"),
        ("cursor=%00", "cursor"),
        ("page_size=1%00", "page_size"),
        ("x%00=1", "x\x00"),
    ],
)
def test_a_nul_byte_in_an_api_query_string_is_a_400_naming_the_parameter(
    query: str, name: str
) -> None:
    body = assert_json_400(APIClient().get(f"/api/events/?{query}"), name)
    assert body[name] == ["Null characters are not allowed."]
    user = UserFactory.create()
    client = APIClient()
    client.force_authenticate(user)
    assert_json_400(client.get(f"/api/events/mine/?{query}"), name)


@pytest.mark.parametrize(
    "header",
    [
        {"HTTP_AUTHORIZATION": "Token abc\x00def"},
        {"HTTP_X_FORWARDED_FOR": "1.2.3.4\x00"},
        {"HTTP_ACCEPT_LANGUAGE": "en\x00"},
        {"HTTP_USER_AGENT": "\x00"},
    ],
)
def test_a_nul_byte_in_a_header_is_a_400(header: dict[str, Any]) -> None:
    client = Client(raise_request_exception=False)
    for url in ("/api/events/", "/api/events/mine/"):
        assert_json_400(client.get(url, **header))
    assert client.get("/", **header).status_code == 400


def test_a_nul_byte_in_a_cookie_is_ignored() -> None:
    user = UserFactory.create()
    client = Client(raise_request_exception=False)
    client.force_login(user)
    cookies = f"sessionid={client.cookies['sessionid'].value}; csrftoken=\x00abc; x\x00=1"
    for url in ("/", "/api/events/", "/events/mine/"):
        assert Client().get(url, HTTP_COOKIE=cookies).status_code == 200, url
