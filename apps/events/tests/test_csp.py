"""A strict Content-Security-Policy on every page; the API docs served from the package (issue 14,
issue 13 item 3). That the pages work under it in Chromium is test_browser.py's job."""

from __future__ import annotations

import re

import pytest
from django.http.response import HttpResponseBase
from django.test import Client

from apps.events.tests.factories import EventFactory

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)


def directives(response: HttpResponseBase) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/api/docs/", "/api/redoc/"])
def test_pages_get_a_policy_that_allows_only_our_own_scripts(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    policy = directives(response)
    assert policy["script-src"][0] == "'self'"
    assert all(source.startswith("'sha256-") for source in policy["script-src"][1:])
    assert policy["object-src"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]
    assert not INLINE_SCRIPT.search(response.content.decode()), path


def test_the_event_page_loads_its_live_badge_script_from_a_file(client: Client) -> None:
    event = EventFactory.create()
    page = client.get(f"/events/{event.pk}/").content.decode()
    assert re.search(r'<script src="/static/events/live\.js"', page)
    assert not INLINE_SCRIPT.search(page)


def test_the_api_docs_come_from_the_package_not_a_cdn(client: Client) -> None:
    for path in ["/api/docs/", "/api/redoc/"]:
        page = client.get(path).content.decode()
        assert "/static/drf_spectacular_sidecar/" in page, path
        assert "cdn" not in page.lower(), path
        assert "https://" not in page, path
