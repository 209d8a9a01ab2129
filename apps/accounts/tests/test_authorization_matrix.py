"""Who may do what (CONTRACT §4): every role x every /api/ endpoint x every event status.

The expected status of each cell comes from the tables below, read off the contract.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from apps.events import lifecycle
from apps.events.models import Event, EventStatusChange
from apps.events.tests.factories import EventFactory, ParticipationFactory, UserFactory
from tests.support.auth import token_for

pytestmark = pytest.mark.django_db

Status = Event.EventStatus
PASSWORD = "correct horse battery staple"
API = EventStatusChange.Source.API

ROLES = ["anonymous", "stranger", "participant", "organizer", "staff", "bad_token", "expired_token"]
# A DRAFT cancelled before it was ever confirmed stays private; one cancelled after confirmation
# is public. Both are CANCELLED.
STATUSES = [
    "DRAFT",
    "CONFIRMED",
    "ONGOING",
    "COMPLETED",
    "CANCELLED",
    "CANCELLED_DRAFT",
    "ARCHIVED",
]
PRIVATE = {"DRAFT", "CANCELLED_DRAFT"}
OPEN = {"CONFIRMED", "ONGOING"}
EDITABLE = {"DRAFT", "CONFIRMED", "ONGOING"}
# Events whose history holds a change made by a person (the organizer).
WITH_HUMAN_CHANGES = {"CONFIRMED", "CANCELLED", "CANCELLED_DRAFT"}


@dataclass(frozen=True)
class Endpoint:
    method: str
    action: str  # "" for the event itself
    body: dict[str, Any] | None = None
    reads: bool = False  # anyone who can see the event may call it
    organizer_only: bool = False

    def path(self, event: Event) -> str:
        return f"/api/events/{event.pk}/{self.action + '/' if self.action else ''}"

    @property
    def name(self) -> str:
        return f"{self.method} {self.action or 'detail'}"


EVENT_ENDPOINTS = [
    Endpoint("get", "", reads=True),
    Endpoint("get", "history", reads=True),
    Endpoint("patch", "", {"title": "Renamed"}, organizer_only=True),
    Endpoint("delete", "", organizer_only=True),
    Endpoint("post", "confirm", organizer_only=True),
    Endpoint("post", "cancel", organizer_only=True),
    Endpoint("post", "complete", organizer_only=True),
    Endpoint("post", "join"),
    Endpoint("post", "leave"),
]

# What the organizer gets, by status, for each organizer action (everything else: 409).
ORGANIZER_OK: dict[str, tuple[int, set[str]]] = {
    "patch detail": (200, EDITABLE),
    "delete detail": (204, {"DRAFT"}),
    "post confirm": (200, {"DRAFT"}),  # its start is in the future
    "post cancel": (200, EDITABLE),
    "post complete": (200, {"ONGOING"}),  # the CONFIRMED one has not started yet
}


def expected_for_event(endpoint: Endpoint, role: str, status: str) -> int:
    if role in ("bad_token", "expired_token"):
        return 401
    if role == "anonymous" and not endpoint.reads:
        return 401
    if status in PRIVATE and role != "organizer":
        return 404
    if endpoint.reads:
        return 200
    if endpoint.organizer_only:
        if role != "organizer":
            return 403
        ok, statuses = ORGANIZER_OK[endpoint.name]
        return ok if status in statuses else 409
    # join / leave: open events only, for everyone (a past participant included).
    return 200 if status in OPEN else 409


def cell(endpoint: Endpoint, role: str, status: str) -> Any:
    return pytest.param(
        endpoint,
        role,
        status,
        expected_for_event(endpoint, role, status),
        id=f"{endpoint.name}-{role}-{status}",
    )


@dataclass
class World:
    organizer: Any
    stranger: Any
    participant: Any
    staff: Any

    def client(self, role: str) -> APIClient:
        client = APIClient()
        users = {
            "stranger": self.stranger,
            "participant": self.participant,
            "organizer": self.organizer,
            "staff": self.staff,
        }
        if role in users:
            key = token_for(users[role])
        elif role == "bad_token":
            key = "0" * 64
        elif role == "expired_token":
            _, key = AuthToken.objects.create(user=self.stranger, expiry=timedelta(seconds=-1))
        else:
            return client
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    def event(self, status: str) -> Event:
        now = datetime.now(UTC)
        make: dict[str, Callable[[], Event]] = {
            "DRAFT": lambda: self.draft(),
            "CONFIRMED": lambda: self.confirmed(),
            "ONGOING": lambda: self.past(Status.ONGOING, now - timedelta(hours=1)),
            "COMPLETED": lambda: self.past(Status.COMPLETED, now - timedelta(days=2)),
            "CANCELLED": lambda: lifecycle.cancel(
                self.confirmed().pk, actor=self.organizer, source=API
            ),
            "CANCELLED_DRAFT": lambda: lifecycle.cancel(
                self.draft().pk, actor=self.organizer, source=API
            ),
            "ARCHIVED": lambda: self.past(Status.ARCHIVED, now - timedelta(days=200)),
        }
        event = make[status]()
        if status not in PRIVATE:
            ParticipationFactory.create(event=event, user=self.participant)
        return Event.objects.get(pk=event.pk)

    def draft(self) -> Event:
        start = datetime.now(UTC) + timedelta(days=3)
        return EventFactory.create(organizer=self.organizer, status=Status.DRAFT, start_date=start)

    def confirmed(self) -> Event:
        return lifecycle.confirm(self.draft().pk, actor=self.organizer, source=API)

    def past(self, status: str, start: datetime) -> Event:
        return EventFactory.create(organizer=self.organizer, status=status, start_date=start)


@pytest.fixture
def world() -> World:
    return World(
        organizer=UserFactory.create(username="olga"),
        stranger=UserFactory.create(username="sam"),
        participant=UserFactory.create(username="pat"),
        staff=UserFactory.create(username="opsadmin", is_staff=True),
    )


def call(client: APIClient, method: str, path: str, body: dict[str, Any] | None) -> Any:
    return (
        getattr(client, method)(path, body, format="json")
        if body
        else getattr(client, method)(path)
    )


@pytest.mark.parametrize(
    ("endpoint", "role", "status", "expected"),
    [cell(e, r, s) for e, r, s in itertools.product(EVENT_ENDPOINTS, ROLES, STATUSES)],
)
def test_event_endpoint(
    world: World, endpoint: Endpoint, role: str, status: str, expected: int
) -> None:
    event = world.event(status)
    response = call(world.client(role), endpoint.method, endpoint.path(event), endpoint.body)
    assert response.status_code == expected, response.content[:300]
    if expected >= 400:
        body = response.json()
        assert isinstance(body.get("detail"), str), body
    if endpoint.action == "history" and expected == 200 and status in WITH_HUMAN_CHANGES:
        actors = [change["actor"] for change in response.json()]
        if role in ("organizer", "staff"):
            assert {"id": world.organizer.pk, "username": "olga"} in actors
        else:
            assert actors, actors
            assert all(actor is None for actor in actors), actors


# --- endpoints without an event: every role ---------------------------------------------------

USER_ROLES = {"stranger", "participant", "organizer", "staff"}


def expected_for_account(name: str, role: str) -> int:
    if role in ("bad_token", "expired_token"):
        return 401
    anyone = {"GET events": 200, "POST register": 201, "POST token": 200}
    users = {
        "GET mine": 200,
        "POST events": 201,
        "POST logout": 204,
        "GET me": 200,
        "PATCH me": 200,
    }
    if name in anyone:
        return anyone[name]
    return users[name] if role in USER_ROLES else 401


ACCOUNT_ENDPOINTS: dict[str, tuple[str, str, Callable[[str], dict[str, Any] | None]]] = {
    "GET events": ("get", "/api/events/", lambda role: None),
    "GET mine": ("get", "/api/events/mine/", lambda role: None),
    "POST events": (
        "post",
        "/api/events/",
        lambda role: {
            "title": "New",
            "start_date": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        },
    ),
    "POST register": (
        "post",
        "/api/auth/register/",
        lambda role: {
            "username": f"new_{role}",
            "email": "n@example.com",
            "password": "an unguessable phrase",
        },
    ),
    "POST token": (
        "post",
        "/api/auth/token/",
        lambda role: {"username": "olga", "password": PASSWORD},
    ),
    "POST logout": ("post", "/api/auth/logout/", lambda role: None),
    "GET me": ("get", "/api/auth/me/", lambda role: None),
    "PATCH me": ("patch", "/api/auth/me/", lambda role: {"timezone": "Asia/Tokyo"}),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(ACCOUNT_ENDPOINTS))
def test_endpoint_without_an_event(world: World, name: str, role: str) -> None:
    method, path, body = ACCOUNT_ENDPOINTS[name]
    response = call(world.client(role), method, path, body(role))
    expected = expected_for_account(name, role)
    assert response.status_code == expected, response.content[:300]
    if expected >= 400:
        assert isinstance(response.json().get("detail"), str)
