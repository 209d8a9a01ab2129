"""List parameters take repeated keys, as generated OpenAPI clients send them, and commas."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.events.models import Event
from apps.events.tests.factories import EventFactory, ParticipationFactory, UserFactory

pytestmark = pytest.mark.django_db
Status = Event.EventStatus


def ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["results"]}


@pytest.fixture
def events() -> dict[str, Event]:
    now = timezone.now()
    return {
        "confirmed": EventFactory.create(status=Status.CONFIRMED),
        "ongoing": EventFactory.create(status=Status.ONGOING, start_date=now - timedelta(hours=1)),
    }


@pytest.mark.parametrize(
    "query",
    [
        "status=CONFIRMED&status=ONGOING",
        "status=CONFIRMED,ONGOING",
        "status=ONGOING&status=CONFIRMED,ONGOING",
    ],
)
def test_discovery_status_takes_repeated_keys_and_commas(
    events: dict[str, Event], query: str
) -> None:
    assert ids(APIClient().get(f"/api/events/?{query}")) == {e.pk for e in events.values()}


def test_a_repeated_discovery_status_is_checked_value_by_value(events: dict[str, Event]) -> None:
    response = APIClient().get("/api/events/?status=CONFIRMED&status=COMPLETED")
    assert response.status_code == 400
    assert "status" in response.json()


def test_my_events_status_takes_repeated_keys_and_commas() -> None:
    user = UserFactory.create()
    draft = EventFactory.create(organizer=user, status=Status.DRAFT)
    archived = EventFactory.create(organizer=user, status=Status.ARCHIVED)
    joined = EventFactory.create(status=Status.CONFIRMED)
    ParticipationFactory.create(event=joined, user=user)
    client = APIClient()
    client.force_authenticate(user)
    assert ids(client.get("/api/events/mine/?status=DRAFT&status=ARCHIVED")) == {
        draft.pk,
        archived.pk,
    }
    assert ids(client.get("/api/events/mine/?status=DRAFT,ARCHIVED&status=CONFIRMED")) == {
        draft.pk,
        archived.pk,
        joined.pk,
    }
    response = client.get("/api/events/mine/?status=DRAFT&status=DONE")
    assert response.status_code == 400
    assert response.json() == {"status": ["Unknown status: DONE."]}


def test_the_schema_describes_status_as_an_exploded_array() -> None:
    schema = APIClient().get("/api/schema/?format=json").json()
    for path, enum in [
        ("/api/events/", ["CONFIRMED", "ONGOING"]),
        ("/api/events/mine/", Status.values),
    ]:
        [status] = [p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == "status"]
        assert (status["style"], status["explode"]) == ("form", True), path
        assert status["schema"]["type"] == "array"
        assert status["schema"]["items"]["enum"] == enum
