"""/api/webhooks/ (CONTRACT §9): an owner's endpoints, the secret shown once, refused URLs, the
delivery log and a retry by hand. Every response is checked against the OpenAPI schema."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from pytest_django.fixtures import SettingsWrapper
from rest_framework.test import APIClient

from apps.events import lifecycle
from apps.events.tests.factories import EventFactory, UserFactory
from apps.events.tests.test_api import client_for
from apps.webhooks.models import Delivery, Endpoint
from tests.support.api import assert_error

pytestmark = pytest.mark.django_db

PUBLIC_URL = "https://93.184.216.34/hooks/eventide"
ENDPOINT_KEYS = {"id", "url", "event_types", "is_active", "created_at"}


@pytest.fixture
def owner() -> User:
    return UserFactory.create(username="owner")


@pytest.fixture
def as_owner(owner: User) -> APIClient:
    return client_for(owner)


def create(client: APIClient, **body: Any) -> Any:
    return client.post("/api/webhooks/", {"url": PUBLIC_URL, "event_types": ["*"], **body}, "json")


def test_the_secret_is_shown_once_on_create(as_owner: APIClient) -> None:
    response = create(as_owner, event_types=["event.completed", "event.cancelled"])
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {*ENDPOINT_KEYS, "secret"}
    assert body["secret"].startswith("whsec_")
    assert body["event_types"] == ["event.completed", "event.cancelled"]
    assert body["is_active"] is True
    assert set(as_owner.get(f"/api/webhooks/{body['id']}/").json()) == ENDPOINT_KEYS
    assert [set(e) for e in as_owner.get("/api/webhooks/").json()] == [ENDPOINT_KEYS]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8000/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.1/hook",
        "http://172.16.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fe80::1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_loopback_private_and_link_local_urls_are_refused(as_owner: APIClient, url: str) -> None:
    body = assert_error(create(as_owner, url=url), 400, "url")
    assert "not allowed" in body["url"][0]
    assert not Endpoint.objects.exists()


def test_private_urls_are_allowed_when_configured(
    as_owner: APIClient, settings: SettingsWrapper
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = True
    assert create(as_owner, url="http://127.0.0.1:9000/hook").status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://93.184.216.34/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "http://user:pw@93.184.216.34/"}, "url"),
        ({"url": "http://93.184.216.34:99999/"}, "url"),
        ({"url": 5}, "url"),
        ({"event_types": ["event.exploded"]}, "event_types"),
        ({"event_types": []}, "event_types"),
        ({"event_types": "*"}, "event_types"),
        ({"event_types": ["*", "event.completed"]}, "event_types"),
        ({"secret": "whsec_mine"}, "secret"),
        ({"is_active": False}, "is_active"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    as_owner: APIClient, body: dict[str, Any], field: str
) -> None:
    assert_error(create(as_owner, **body), 400, field)


def test_someone_elses_endpoint_is_not_found(as_owner: APIClient) -> None:
    theirs = create(client_for(UserFactory.create())).json()["id"]
    assert_error(as_owner.get(f"/api/webhooks/{theirs}/"), 404)
    assert_error(as_owner.patch(f"/api/webhooks/{theirs}/", {"is_active": False}, "json"), 404)
    assert_error(as_owner.delete(f"/api/webhooks/{theirs}/"), 404)
    assert_error(as_owner.get(f"/api/webhooks/{theirs}/deliveries/"), 404)
    assert as_owner.get("/api/webhooks/").json() == []


def test_anonymous_is_401() -> None:
    assert_error(APIClient().get("/api/webhooks/"), 401)


def test_the_owner_edits_and_deletes(as_owner: APIClient) -> None:
    created = create(as_owner).json()
    path = f"/api/webhooks/{created['id']}/"
    edited = as_owner.patch(path, {"is_active": False, "event_types": ["event.ongoing"]}, "json")
    assert edited.status_code == 200, edited.json()
    assert (edited.json()["is_active"], edited.json()["event_types"]) == (False, ["event.ongoing"])
    assert_error(as_owner.patch(path, {"url": "http://127.0.0.1/"}, "json"), 400, "url")
    assert as_owner.delete(path).status_code == 204
    assert_error(as_owner.get(path), 404)


def test_the_delivery_log_and_a_retry_by_hand(owner: User, as_owner: APIClient) -> None:
    created = create(as_owner).json()
    event = EventFactory.create(organizer=owner)
    lifecycle.cancel(event.pk, actor=owner)
    log = as_owner.get(f"/api/webhooks/{created['id']}/deliveries/")
    assert log.status_code == 200
    (row,) = log.json()["results"]
    delivery = Delivery.objects.get()
    assert row == {
        "id": delivery.pk,
        "change_id": delivery.change_id,
        "type": "event.cancelled",
        "state": "pending",
        "attempts": 0,
        "last_status_code": None,
        "next_attempt_at": row["next_attempt_at"],
    }
    Delivery.objects.update(state=Delivery.State.FAILED, next_attempt_at=None)
    retried = as_owner.post(f"/api/webhooks/{created['id']}/deliveries/{delivery.pk}/retry/")
    assert retried.status_code == 202
    assert retried.json()["state"] == "pending"
    assert retried.json()["next_attempt_at"] is not None
    other = create(as_owner).json()["id"]
    assert_error(as_owner.post(f"/api/webhooks/{other}/deliveries/{delivery.pk}/retry/"), 404)
