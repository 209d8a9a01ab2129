"""Who sees what (CONTRACT §4, §5): a DRAFT cancelled before it was ever confirmed stays private,
and who made a change is shown only to the event's organizer and to staff."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from apps.events import lifecycle, realtime, selectors
from apps.events.lifecycle import Transition
from apps.events.models import Event
from apps.events.tests.factories import EventFactory, UserFactory
from tests.support.auth import token_for

pytestmark = pytest.mark.django_db
Status = Event.EventStatus


def api_client(user: User | None = None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


def page_client(user: User | None = None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def organizer() -> User:
    return UserFactory.create(username="olga")


@pytest.fixture
def viewers() -> dict[str, User | None]:
    return {
        "anonymous": None,
        "stranger": UserFactory.create(username="stan"),
        "staff": UserFactory.create(username="opsadmin", is_staff=True),
    }


def draft(organizer: User) -> Event:
    start = timezone.now() + timedelta(days=2)
    return EventFactory.create(organizer=organizer, status=Status.DRAFT, start_date=start)


def cancelled_draft(organizer: User) -> Event:
    event = draft(organizer)
    lifecycle.cancel(event.pk, actor=organizer)
    event.refresh_from_db()
    return event


def test_a_draft_cancelled_before_confirmation_is_404_to_everyone_but_its_organizer(
    organizer: User, viewers: dict[str, Any]
) -> None:
    event = cancelled_draft(organizer)
    for who, user in viewers.items():
        for path in (f"/api/events/{event.pk}/", f"/api/events/{event.pk}/history/"):
            response = api_client(user).get(path)
            assert response.status_code == 404, (who, path)
            assert set(response.json()) == {"detail"}
        assert page_client(user).get(f"/events/{event.pk}/").status_code == 404, who
        assert not selectors.can_see(user or AnonymousUser(), event), who
    assert api_client(organizer).get(f"/api/events/{event.pk}/").json()["status"] == "CANCELLED"
    assert api_client(organizer).get(f"/api/events/{event.pk}/history/").status_code == 200
    assert page_client(organizer).get(f"/events/{event.pk}/").status_code == 200
    assert selectors.can_see(organizer, event)


def test_an_event_cancelled_after_confirmation_stays_public(
    organizer: User, viewers: dict[str, Any]
) -> None:
    event = draft(organizer)
    lifecycle.confirm(event.pk, actor=organizer)
    lifecycle.cancel(event.pk, actor=organizer)
    event.refresh_from_db()
    for user in viewers.values():
        assert api_client(user).get(f"/api/events/{event.pk}/").status_code == 200
        assert page_client(user).get(f"/events/{event.pk}/").status_code == 200
        assert selectors.can_see(user or AnonymousUser(), event)


def test_the_public_stream_never_carries_a_never_confirmed_cancellation() -> None:
    at = timezone.now()
    private = Transition(1, Status.DRAFT, Status.CANCELLED, at)
    public = Transition(2, Status.CONFIRMED, Status.CANCELLED, at)
    assert not realtime.is_public(private)
    assert realtime.is_public(public)
    assert realtime.public_messages([private, public]) == [realtime.status_message(public)]


def test_history_shows_the_actor_to_the_organizer_and_staff_only(
    organizer: User, viewers: dict[str, Any]
) -> None:
    event = draft(organizer)
    lifecycle.confirm(event.pk, actor=viewers["staff"])
    expected = {"id": viewers["staff"].pk, "username": "opsadmin"}
    for user, actor in [
        (organizer, expected),
        (viewers["staff"], expected),
        (viewers["stranger"], None),
        (None, None),
    ]:
        [change] = api_client(user).get(f"/api/events/{event.pk}/history/").json()
        assert change["actor"] == actor, user
        assert change["to_status"] == "CONFIRMED"
    assert b"opsadmin" not in page_client(viewers["stranger"]).get(f"/events/{event.pk}/").content
    assert b"opsadmin" in page_client(organizer).get(f"/events/{event.pk}/").content
