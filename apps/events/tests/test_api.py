"""The public HTTP API of CONTRACT §4, through DRF's test client on real PostgreSQL."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from apps.events.models import Event, EventStatusChange, Participation
from apps.events.tests.factories import EventFactory, ParticipationFactory, UserFactory
from tests.support.api import assert_error
from tests.support.auth import token_for

Status = Event.EventStatus
LONDON = ZoneInfo("Europe/London")

pytestmark = pytest.mark.django_db

# The factories, typed as what they build.
new_event = cast(Callable[..., Event], EventFactory)
new_user = cast(Callable[..., Any], UserFactory)
new_participation = cast(Callable[..., Participation], ParticipationFactory)

EVENT_KEYS = {
    "id",
    "title",
    "description",
    "venue",
    "timezone",
    "start_date",
    "end_date",
    "status",
    "capacity",
    "participant_count",
    "organizer",
    "created_at",
    "updated_at",
    "completed_at",
}


def client_for(user: Any = None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def organizer() -> Any:
    return new_user(username="olga")


@pytest.fixture
def other() -> Any:
    return new_user(username="oscar")


@pytest.fixture
def as_organizer(organizer: Any) -> APIClient:
    return client_for(organizer)


@pytest.fixture
def as_other(other: Any) -> APIClient:
    return client_for(other)


def soon(hours: float = 24) -> datetime:
    return datetime.now(UTC) + timedelta(hours=hours)


def started(organizer: Any, status: str = Status.ONGOING, **kwargs: Any) -> Event:
    start = datetime.now(UTC) - timedelta(hours=1)
    kwargs.setdefault("end_date", start + timedelta(hours=3))
    return new_event(organizer=organizer, status=status, start_date=start, **kwargs)


def ended(organizer: Any, status: str = Status.COMPLETED) -> Event:
    start = datetime.now(UTC) - timedelta(days=2)
    return new_event(
        organizer=organizer, status=status, start_date=start, end_date=start + timedelta(hours=2)
    )


def ids(response: Any) -> list[int]:
    return [item["id"] for item in response.json()["results"]]


def url(event: Event, action: str = "") -> str:
    return f"/api/events/{event.pk}/{action + '/' if action else ''}"


# --- authentication ------------------------------------------------------------------------------


def test_a_bad_token_is_a_json_401() -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert_error(client.get("/api/events/"), 401)


@pytest.mark.parametrize("cookie", ["abc\x00defghij", "not a session key", "x" * 5000])
def test_garbage_session_cookies_are_anonymous_not_errors(anon: APIClient, cookie: str) -> None:
    new_event()
    anon.cookies["sessionid"] = cookie
    assert anon.get("/api/events/").status_code == 200
    assert_error(anon.get("/api/events/mine/"), 401)


def test_session_auth_enforces_csrf(organizer: Any) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(organizer)
    assert client.get("/api/events/mine/").status_code == 200
    response = client.post(
        "/api/events/", {"title": "x", "start_date": soon().isoformat()}, format="json"
    )
    assert_error(response, 403)


# --- discovery -----------------------------------------------------------------------------------


def test_discovery_lists_confirmed_and_ongoing_only_in_start_order(
    anon: APIClient, organizer: Any
) -> None:
    later = new_event(organizer=organizer, start_date=soon(48))
    earlier = new_event(organizer=organizer, start_date=soon(24))
    ongoing = started(organizer)
    for status in (Status.DRAFT, Status.CANCELLED, Status.ARCHIVED):
        new_event(organizer=organizer, status=status)
    ended(organizer)

    response = anon.get("/api/events/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert ids(response) == [ongoing.pk, earlier.pk, later.pk]
    first = body["results"][0]
    assert set(first) == EVENT_KEYS
    assert first["organizer"] == {"id": organizer.pk, "username": "olga"}
    assert first["status"] == "ONGOING"
    assert datetime.fromisoformat(first["start_date"]).tzinfo is not None


def test_seed_view_rules_completed_leaves_discovery_stays_reachable_and_in_my_events(
    anon: APIClient, organizer: Any, other: Any, as_organizer: APIClient, as_other: APIClient
) -> None:
    event = started(organizer)
    new_participation(event=event, user=other)
    assert event.pk in ids(anon.get("/api/events/"))

    response = as_organizer.post(url(event, "complete"))
    assert response.status_code == 200, response.content

    assert event.pk not in ids(anon.get("/api/events/"))
    direct = anon.get(url(event))
    assert direct.status_code == 200
    assert direct.json()["status"] == "COMPLETED"
    assert direct.json()["completed_at"] is not None
    assert event.pk in ids(as_organizer.get("/api/events/mine/"))
    assert event.pk in ids(as_other.get("/api/events/mine/"))
    assert event.pk not in ids(as_other.get("/api/events/mine/?include_completed=false"))


def test_discovery_filters(anon: APIClient, organizer: Any) -> None:
    jazz = new_event(organizer=organizer, title="Jazz night", start_date=soon(24))
    chess = new_event(organizer=organizer, title="Chess club", start_date=soon(72))
    live = started(organizer, title="Live jazz")

    assert ids(anon.get("/api/events/?q=JAZZ")) == [live.pk, jazz.pk]
    after = (soon(48)).isoformat()
    assert ids(anon.get("/api/events/", {"starts_after": after})) == [chess.pk]
    assert ids(anon.get("/api/events/", {"starts_before": after})) == [live.pk, jazz.pk]
    assert ids(anon.get("/api/events/?status=ONGOING")) == [live.pk]
    assert ids(anon.get("/api/events/?status=CONFIRMED,ONGOING")) == [live.pk, jazz.pk, chess.pk]


def test_discovery_reads_rows_and_counts_afresh_on_every_request(
    anon: APIClient, organizer: Any, other: Any
) -> None:
    # The list starts from one queryset built at import (selectors.discovery): each request must
    # still read the table as it is now, with or without filter parameters.
    first = new_event(organizer=organizer, start_date=soon(24))
    assert ids(anon.get("/api/events/")) == [first.pk]
    assert ids(anon.get("/api/events/?q=Event")) == [first.pk]

    second = new_event(organizer=organizer, start_date=soon(48))
    new_participation(event=first, user=other)
    Event.objects.filter(pk=second.pk).update(title="Renamed")

    body = anon.get("/api/events/").json()
    assert [e["id"] for e in body["results"]] == [first.pk, second.pk]
    assert [e["participant_count"] for e in body["results"]] == [1, 0]
    assert body["results"][1]["title"] == "Renamed"
    assert ids(anon.get("/api/events/?q=renamed")) == [second.pk]


def test_naive_query_datetimes_are_read_in_london(anon: APIClient, organizer: Any) -> None:
    # 09:00 UTC is 10:00 in London in July (BST).
    event = new_event(
        organizer=organizer, start_date=datetime(2099, 7, 1, 9, 0, tzinfo=UTC), end_date=None
    )
    assert ids(anon.get("/api/events/?starts_after=2099-07-01T10:00:00")) == [event.pk]
    assert ids(anon.get("/api/events/?starts_after=2099-07-01T10:00:01")) == []


def test_query_datetimes_with_offsets_postgresql_refuses_are_converted(anon: APIClient) -> None:
    event = new_event(start_date=datetime(2099, 7, 1, 9, 0, tzinfo=UTC), end_date=None)
    # 2099-07-02T08:37+23:37 is 09:00 UTC the day before; PostgreSQL allows offsets to ±15:59.
    query = {"starts_after": "2099-07-02T08:37:00+23:37"}
    assert ids(anon.get("/api/events/", query)) == [event.pk]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=COMPLETED", "status"),
        ("status=nonsense", "status"),
        ("starts_after=yesterday", "starts_after"),
        ("starts_before=2026-13-45T99:00", "starts_before"),
        ("starts_after=0001-01-01T00:00:00%2B23:37", "starts_after"),
    ],
)
def test_bad_discovery_parameters_are_400_naming_them(
    anon: APIClient, query: str, field: str
) -> None:
    assert_error(anon.get(f"/api/events/?{query}"), 400, field)


def test_unknown_parameters_are_ignored_and_bad_page_sizes_refused(anon: APIClient) -> None:
    event = new_event()
    assert ids(anon.get("/api/events/?colour=blue&q=")) == [event.pk]
    for size in ("abc", "-3", "0", "1.5"):
        assert_error(anon.get(f"/api/events/?page_size={size}"), 400, "page_size")
    assert_error(anon.get("/api/events/?q=%00"), 400, "q")


def test_cursor_pages_walk_every_event_once_in_order(anon: APIClient, organizer: Any) -> None:
    same_start = soon(30)
    events = [new_event(organizer=organizer, start_date=same_start) for _ in range(3)]
    events += [new_event(organizer=organizer, start_date=soon(10 + i)) for i in range(4)]
    expected = [e.pk for e in sorted(events, key=lambda e: (e.start_date, e.pk))]

    seen: list[int] = []
    page_url: str | None = "/api/events/?page_size=2"
    while page_url:
        body = anon.get(page_url).json()
        assert len(body["results"]) <= 2
        seen += [item["id"] for item in body["results"]]
        page_url = body["next"]

    assert seen == expected


def test_page_size_defaults_to_20_and_is_capped_at_100(anon: APIClient, organizer: Any) -> None:
    EventFactory.create_batch(105, organizer=organizer)
    assert len(ids(anon.get("/api/events/"))) == 20
    assert len(ids(anon.get("/api/events/?page_size=1000"))) == 100


def test_bad_cursors_are_json_404(anon: APIClient, organizer: Any) -> None:
    EventFactory.create_batch(3, organizer=organizer)
    forged = base64.b64encode(b"o=0&r=0&p=not-a-date").decode()
    for cursor in ("garbage", "%%%", forged, base64.b64encode(b"p=2026").decode()):
        assert_error(anon.get("/api/events/", {"cursor": cursor}), 404)


def test_a_real_cursor_carries_an_aware_position(anon: APIClient, organizer: Any) -> None:
    EventFactory.create_batch(3, organizer=organizer)
    next_url = anon.get("/api/events/?page_size=1").json()["next"]
    cursor = parse_qs(urlsplit(next_url).query)["cursor"][0]
    position = parse_qs(base64.b64decode(cursor).decode())["p"][0]
    assert datetime.fromisoformat(position).tzinfo is not None


def listing_queries(
    client: APIClient, path: str, count: int, django_assert_num_queries: Any, expected: int
) -> None:
    with django_assert_num_queries(expected):
        response = client.get(path)
    assert response.status_code == 200
    assert len(response.json()["results"]) == count


def test_listing_1_or_100_events_costs_one_query(
    anon: APIClient, organizer: Any, django_assert_num_queries: Any
) -> None:
    first = new_event(organizer=organizer)
    new_participation(event=first)
    listing_queries(anon, "/api/events/?page_size=100", 1, django_assert_num_queries, 1)

    for event in EventFactory.create_batch(99, organizer=new_user()):
        new_participation(event=event)
    listing_queries(anon, "/api/events/?page_size=100", 100, django_assert_num_queries, 1)


def test_my_events_of_1_or_100_costs_two_queries_token_included(
    organizer: Any, as_organizer: APIClient, django_assert_num_queries: Any
) -> None:
    new_event(organizer=organizer)
    listing_queries(
        as_organizer, "/api/events/mine/?page_size=100", 1, django_assert_num_queries, 2
    )

    for event in EventFactory.create_batch(99):
        new_participation(event=event, user=organizer)
    listing_queries(
        as_organizer, "/api/events/mine/?page_size=100", 100, django_assert_num_queries, 2
    )


def test_participant_count_counts_each_event_separately(anon: APIClient, organizer: Any) -> None:
    busy, quiet = new_event(organizer=organizer), new_event(organizer=organizer)
    ParticipationFactory.create_batch(3, event=busy)
    counts = {
        item["id"]: item["participant_count"] for item in anon.get("/api/events/").json()["results"]
    }
    assert counts == {busy.pk: 3, quiet.pk: 0}


# --- one event ---------------------------------------------------------------------------------


def test_draft_is_visible_to_its_organizer_only(
    anon: APIClient, as_organizer: APIClient, as_other: APIClient, organizer: Any
) -> None:
    draft = new_event(organizer=organizer, status=Status.DRAFT)
    assert as_organizer.get(url(draft)).status_code == 200
    assert_error(anon.get(url(draft)), 404)
    assert_error(as_other.get(url(draft)), 404)


@pytest.mark.parametrize("status", [Status.CONFIRMED, Status.CANCELLED, Status.ARCHIVED])
def test_non_draft_events_are_reachable_by_anyone(
    anon: APIClient, organizer: Any, status: str
) -> None:
    event = new_event(organizer=organizer, status=status)
    response = anon.get(url(event))
    assert response.status_code == 200
    assert response.json()["status"] == status


def test_unknown_ids_and_urls_are_json_404(anon: APIClient) -> None:
    assert_error(anon.get("/api/events/999999999/"), 404)
    assert_error(anon.get("/api/events/99999999999999999999999/"), 404)
    assert_error(anon.get("/api/nothing/here/"), 404)
    assert_error(APIClient(enforce_csrf_checks=True).post("/api/events/-1/confirm/"), 404)


# --- create ------------------------------------------------------------------------------------


def test_create_makes_a_draft_organized_by_the_caller(
    as_organizer: APIClient, organizer: Any
) -> None:
    start = soon(48)
    response = as_organizer.post(
        "/api/events/",
        {
            "title": "Launch",
            "venue": "Hall",
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(hours=2)).isoformat(),
            "capacity": 10,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == EVENT_KEYS
    assert body["status"] == "DRAFT"
    assert body["organizer"]["id"] == organizer.pk
    assert body["participant_count"] == 0
    event = Event.objects.get(pk=body["id"])
    assert (event.organizer, event.status, event.capacity) == (organizer, Status.DRAFT, 10)


def test_create_needs_a_user(anon: APIClient) -> None:
    response = anon.post("/api/events/", {"title": "x", "start_date": soon().isoformat()})
    assert_error(response, 401)
    assert not Event.objects.exists()


def test_naive_datetimes_in_bodies_are_read_in_london(as_organizer: APIClient) -> None:
    response = as_organizer.post(
        "/api/events/",
        {"title": "Summer", "start_date": "2099-07-01T10:00:00"},
        format="json",
    )
    assert response.status_code == 201, response.content
    event = Event.objects.get(pk=response.json()["id"])
    assert event.start_date == datetime(2099, 7, 1, 9, 0, tzinfo=UTC)
    assert response.json()["start_date"] == "2099-07-01T10:00:00+01:00"


BAD_BODIES = [
    ({"title": "x", "start_date": "S", "status": "CONFIRMED"}, "status"),
    ({"title": "x", "start_date": "S", "colour": "blue"}, "colour"),
    ({"title": "x", "start_date": "S", "organizer": 1}, "organizer"),
    ({"title": "x", "start_date": "S", "end_date": "S"}, "end_date"),
    ({"title": "x", "start_date": "S", "end_date": "S-1h"}, "end_date"),
    ({"title": "x" * 201, "start_date": "S"}, "title"),
    ({"title": "x", "start_date": "S", "description": "x" * 100_000}, "description"),
    ({"title": {"nested": 1}, "start_date": "S"}, "title"),
    ({"title": "x", "start_date": 12}, "start_date"),
    ({"title": "x", "start_date": "not a date"}, "start_date"),
    ({"title": "x", "start_date": "0001-01-01T00:00:00"}, "start_date"),
    ({"title": "x", "start_date": "S", "capacity": 0}, "capacity"),
    ({"title": "x", "start_date": "S", "capacity": "many"}, "capacity"),
    ({"title": "x", "start_date": "S", "capacity": 2**40}, "capacity"),
    ({"title": "x\x00", "start_date": "S"}, "title"),
    ({"start_date": "S"}, "title"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
def test_invalid_bodies_are_400_naming_the_field(
    as_organizer: APIClient, body: dict[str, Any], field: str
) -> None:
    start = soon(48)
    marks = {"S": start.isoformat(), "S-1h": (start - timedelta(hours=1)).isoformat()}
    body = {
        key: marks.get(value, value) if isinstance(value, str) else value
        for key, value in body.items()
    }
    assert_error(as_organizer.post("/api/events/", body, format="json"), 400, field)
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("payload", "content_type", "status_code"),
    [
        ("{not json", "application/json", 400),
        ("[1, 2]", "application/json", 400),
        ("null", "application/json", 400),
        ('"text"', "application/json", 400),
        ("title=x", "application/x-www-form-urlencoded", 415),
        ("<event/>", "application/xml", 415),
    ],
)
def test_non_json_or_non_object_bodies_are_refused_with_detail(
    as_organizer: APIClient, payload: str, content_type: str, status_code: int
) -> None:
    response = as_organizer.generic("POST", "/api/events/", payload, content_type=content_type)
    assert_error(response, status_code)


# --- edit and delete ---------------------------------------------------------------------------


def test_organizer_edits_an_event(as_organizer: APIClient, organizer: Any) -> None:
    event = new_event(organizer=organizer, status=Status.CONFIRMED, capacity=5)
    response = as_organizer.patch(url(event), {"title": "Renamed", "capacity": None}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["title"], response.json()["capacity"]) == ("Renamed", None)
    event.refresh_from_db()
    assert (event.title, event.capacity, event.status) == ("Renamed", None, Status.CONFIRMED)


def test_patch_permissions(
    anon: APIClient, as_other: APIClient, organizer: Any, other: Any
) -> None:
    event = new_event(organizer=organizer)
    assert_error(anon.patch(url(event), {"title": "x"}, format="json"), 401)
    assert_error(as_other.patch(url(event), {"title": "x"}, format="json"), 403)
    draft = new_event(organizer=organizer, status=Status.DRAFT)
    assert_error(as_other.patch(url(draft), {"title": "x"}, format="json"), 404)
    event.refresh_from_db()
    assert event.title != "x"


def test_status_is_not_writable(as_organizer: APIClient, organizer: Any) -> None:
    draft = new_event(organizer=organizer, status=Status.DRAFT)
    response = as_organizer.patch(url(draft), {"status": "CONFIRMED"}, format="json")
    assert "confirm" in assert_error(response, 400, "status")["status"][0]
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT


def test_patch_end_date_is_checked_against_the_stored_start(
    as_organizer: APIClient, organizer: Any
) -> None:
    event = new_event(organizer=organizer, status=Status.DRAFT)
    before = (event.start_date - timedelta(minutes=1)).isoformat()
    assert_error(
        as_organizer.patch(url(event), {"end_date": before}, format="json"), 400, "end_date"
    )


def test_capacity_cannot_drop_below_who_has_joined(as_organizer: APIClient, organizer: Any) -> None:
    event = new_event(organizer=organizer)
    ParticipationFactory.create_batch(2, event=event)
    assert_error(as_organizer.patch(url(event), {"capacity": 1}, format="json"), 400, "capacity")
    assert as_organizer.patch(url(event), {"capacity": 2}, format="json").status_code == 200


@pytest.mark.parametrize("status", [Status.COMPLETED, Status.CANCELLED, Status.ARCHIVED])
def test_finished_events_cannot_be_edited(
    as_organizer: APIClient, organizer: Any, status: str
) -> None:
    event = ended(organizer, status)
    assert_error(as_organizer.patch(url(event), {"title": "Late"}, format="json"), 409)
    event.refresh_from_db()
    assert event.title != "Late"


def test_put_is_not_offered(as_organizer: APIClient, organizer: Any) -> None:
    event = new_event(organizer=organizer)
    assert_error(as_organizer.put(url(event), {"title": "x"}, format="json"), 405)


def test_organizer_deletes_a_draft(as_organizer: APIClient, organizer: Any) -> None:
    draft = new_event(organizer=organizer, status=Status.DRAFT)
    response = as_organizer.delete(url(draft))
    assert response.status_code == 204
    assert not Event.objects.filter(pk=draft.pk).exists()


@pytest.mark.parametrize(
    "status", [Status.CONFIRMED, Status.ONGOING, Status.COMPLETED, Status.CANCELLED]
)
def test_only_drafts_can_be_deleted(as_organizer: APIClient, organizer: Any, status: str) -> None:
    event = new_event(organizer=organizer, status=status)
    assert_error(as_organizer.delete(url(event)), 409)
    assert Event.objects.filter(pk=event.pk).exists()


def test_delete_permissions(anon: APIClient, as_other: APIClient, organizer: Any) -> None:
    event = new_event(organizer=organizer, status=Status.CONFIRMED)
    draft = new_event(organizer=organizer, status=Status.DRAFT)
    assert_error(anon.delete(url(draft)), 401)
    assert_error(as_other.delete(url(draft)), 404)
    assert_error(as_other.delete(url(event)), 403)
    assert Event.objects.count() == 2


# --- transitions -------------------------------------------------------------------------------


def test_confirm_a_future_draft_records_who_and_from_where(
    as_organizer: APIClient, organizer: Any
) -> None:
    draft = new_event(organizer=organizer, status=Status.DRAFT, start_date=soon(48))
    response = as_organizer.post(url(draft, "confirm"))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "CONFIRMED"
    change = EventStatusChange.objects.get(event=draft)
    assert (change.from_status, change.to_status) == (Status.DRAFT, Status.CONFIRMED)
    assert (change.actor, change.source) == (organizer, EventStatusChange.Source.API)


def test_cancel_a_confirmed_event(as_organizer: APIClient, organizer: Any) -> None:
    event = new_event(organizer=organizer, status=Status.CONFIRMED)
    response = as_organizer.post(url(event, "cancel"))
    assert response.status_code == 200
    assert response.json()["status"] == "CANCELLED"


def test_complete_a_started_event(as_organizer: APIClient, organizer: Any) -> None:
    event = started(organizer, Status.ONGOING)
    response = as_organizer.post(url(event, "complete"))
    assert response.status_code == 200
    assert response.json()["status"] == "COMPLETED"
    assert response.json()["completed_at"] is not None


REFUSED = [
    ("confirm", "confirmed_future"),
    ("confirm", "draft_past"),
    ("confirm", "cancelled"),
    ("cancel", "cancelled"),
    ("cancel", "completed"),
    ("cancel", "archived"),
    ("complete", "draft_past"),
    ("complete", "confirmed_future"),
    ("complete", "completed"),
    ("complete", "cancelled"),
]


def make(kind: str, organizer: Any) -> Event:
    if kind == "confirmed_future":
        return new_event(organizer=organizer, status=Status.CONFIRMED, start_date=soon(24))
    if kind == "draft_past":
        return started(organizer, Status.DRAFT)
    if kind == "cancelled":
        return new_event(organizer=organizer, status=Status.CANCELLED)
    return ended(organizer, Status.COMPLETED if kind == "completed" else Status.ARCHIVED)


@pytest.mark.parametrize(("action", "kind"), REFUSED)
def test_refused_transitions_are_409_and_change_nothing(
    as_organizer: APIClient, organizer: Any, action: str, kind: str
) -> None:
    event = make(kind, organizer)
    before = event.status
    body = assert_error(as_organizer.post(url(event, action)), 409)
    assert before in body["detail"]
    event.refresh_from_db()
    assert event.status == before
    assert not EventStatusChange.objects.exists()


@pytest.mark.parametrize("action", ["confirm", "cancel", "complete"])
def test_only_the_organizer_makes_transitions(
    anon: APIClient, as_other: APIClient, organizer: Any, action: str
) -> None:
    event = started(organizer, Status.ONGOING)
    draft = new_event(organizer=organizer, status=Status.DRAFT, start_date=soon(48))
    assert_error(anon.post(url(event, action)), 401)
    assert_error(as_other.post(url(event, action)), 403)
    assert_error(as_other.post(url(draft, action)), 404)
    assert not EventStatusChange.objects.exists()


# --- join and leave ----------------------------------------------------------------------------


def test_join_and_leave_are_idempotent(as_other: APIClient, other: Any, organizer: Any) -> None:
    event = new_event(organizer=organizer)
    for _ in range(2):
        response = as_other.post(url(event, "join"))
        assert response.status_code == 200
        assert response.json()["participant_count"] == 1
    assert Participation.objects.filter(event=event, user=other).count() == 1
    for _ in range(2):
        response = as_other.post(url(event, "leave"))
        assert response.status_code == 200
        assert response.json()["participant_count"] == 0


def test_join_a_full_event_is_409(as_other: APIClient, organizer: Any) -> None:
    event = new_event(organizer=organizer, capacity=1)
    new_participation(event=event)
    assert_error(as_other.post(url(event, "join")), 409)


@pytest.mark.parametrize("status", [Status.COMPLETED, Status.CANCELLED, Status.ARCHIVED])
def test_join_and_leave_only_open_events(as_other: APIClient, organizer: Any, status: str) -> None:
    event = ended(organizer, status)
    assert_error(as_other.post(url(event, "join")), 409)
    assert_error(as_other.post(url(event, "leave")), 409)


def test_join_permissions(anon: APIClient, as_other: APIClient, organizer: Any) -> None:
    event = new_event(organizer=organizer)
    draft = new_event(organizer=organizer, status=Status.DRAFT)
    assert_error(anon.post(url(event, "join")), 401)
    assert_error(as_other.post(url(draft, "join")), 404)
    assert_error(client_for(organizer).post(url(draft, "join")), 409)


# --- history -----------------------------------------------------------------------------------


def test_history_lists_changes_oldest_first(
    anon: APIClient, as_organizer: APIClient, organizer: Any
) -> None:
    draft = new_event(organizer=organizer, status=Status.DRAFT, start_date=soon(48))
    as_organizer.post(url(draft, "confirm"))
    as_organizer.post(url(draft, "cancel"))

    response = anon.get(url(draft, "history"))

    assert response.status_code == 200
    assert [(c["from_status"], c["to_status"]) for c in response.json()] == [
        ("DRAFT", "CONFIRMED"),
        ("CONFIRMED", "CANCELLED"),
    ]
    # Who made a change is the organizer's and staff's business (CONTRACT §4).
    assert response.json()[0]["actor"] is None
    assert response.json()[0]["source"] == "api"
    own = as_organizer.get(url(draft, "history")).json()
    assert own[0]["actor"] == {"id": organizer.pk, "username": "olga"}


def test_history_of_someone_elses_draft_is_404(as_other: APIClient, organizer: Any) -> None:
    draft = new_event(organizer=organizer, status=Status.DRAFT)
    assert_error(as_other.get(url(draft, "history")), 404)


# --- my events ---------------------------------------------------------------------------------


def test_my_events_needs_a_user(anon: APIClient) -> None:
    assert_error(anon.get("/api/events/mine/"), 401)


def test_my_events_by_role_status_and_archive(
    as_other: APIClient, other: Any, organizer: Any
) -> None:
    mine = new_event(organizer=other, status=Status.DRAFT)
    joined = new_event(organizer=organizer)
    new_participation(event=joined, user=other)
    archived = ended(other, Status.ARCHIVED)
    new_event(organizer=organizer)

    assert set(ids(as_other.get("/api/events/mine/"))) == {mine.pk, joined.pk}
    assert ids(as_other.get("/api/events/mine/?role=organizer")) == [mine.pk]
    assert ids(as_other.get("/api/events/mine/?role=participant")) == [joined.pk]
    assert ids(as_other.get("/api/events/mine/?status=ARCHIVED")) == [archived.pk]
    assert set(ids(as_other.get("/api/events/mine/?status=DRAFT,ARCHIVED"))) == {
        mine.pk,
        archived.pk,
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("role=boss", "role"),
        ("status=DONE", "status"),
        ("include_completed=maybe", "include_completed"),
    ],
)
def test_bad_my_events_parameters_are_400(as_other: APIClient, query: str, field: str) -> None:
    assert_error(as_other.get(f"/api/events/mine/?{query}"), 400, field)


# --- throttling --------------------------------------------------------------------------------


@pytest.fixture
def one_throttle_window() -> Iterator[None]:
    """Counts are kept per fixed window (apps.events.api.throttling): a test that crossed a
    window's end would see its quota again."""
    with time_machine.travel(datetime(2026, 6, 15, 12, 0, 10, tzinfo=UTC), tick=False):
        yield


@pytest.mark.usefixtures("one_throttle_window")
def test_anonymous_and_user_requests_are_throttled(settings: Any, organizer: Any) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "3/minute", "user": "5/minute"},
    }
    cache.clear()
    try:
        anon = APIClient()
        assert [anon.get("/api/events/").status_code for _ in range(3)] == [200] * 3
        throttled = anon.get("/api/events/")
        assert_error(throttled, 429)
        assert int(throttled["Retry-After"]) > 0

        user = client_for(organizer)
        assert [user.get("/api/events/").status_code for _ in range(5)] == [200] * 5
        assert_error(user.get("/api/events/"), 429)
    finally:
        cache.clear()


@pytest.mark.usefixtures("one_throttle_window")
def test_anonymous_requests_count_against_the_anonymous_rate_only(
    settings: Any, organizer: Any
) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "4/minute", "user": "2/minute"},
    }
    cache.clear()
    try:
        anon = APIClient()
        assert [anon.get("/api/events/").status_code for _ in range(5)] == [200] * 4 + [429]
        user = client_for(organizer)  # the same address, its own quota
        assert [user.get("/api/events/").status_code for _ in range(3)] == [200, 200, 429]
    finally:
        cache.clear()


def test_a_throttle_keeps_one_number_per_client_and_window_and_says_when_it_ends(
    settings: Any,
) -> None:
    """The count is one integer however many requests came (DRF's own throttle kept a list of
    every request's time), and Retry-After is the rest of the window."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "50/minute", "user": "50/minute"},
    }
    cache.clear()
    try:
        with time_machine.travel(datetime(2026, 6, 15, 12, 0, 45, tzinfo=UTC), tick=False):
            anon = APIClient()
            statuses = [anon.get("/api/events/").status_code for _ in range(51)]
            assert statuses == [200] * 50 + [429]
            assert int(anon.get("/api/events/")["Retry-After"]) == 15
            client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
            keys = client.keys("*throttle_anon*")
            assert len(keys) == 1
            assert int(client.get(keys[0])) == 52
            assert 0 < client.ttl(keys[0]) <= 61
    finally:
        cache.clear()


@pytest.mark.parametrize("value", [5, 1.5, True, ["a"], {"a": 1}])
def test_text_fields_refuse_values_that_are_not_strings(value: object) -> None:
    user = UserFactory.create()
    client = APIClient()
    client.force_authenticate(user)
    start = (timezone.now() + timedelta(days=1)).isoformat()
    response = client.post("/api/events/", {"title": value, "start_date": start}, format="json")
    assert response.status_code == 400
    assert "title" in response.json()
    assert not Event.objects.exists()


def test_event_json_is_exactly_what_drfs_own_fields_would_write() -> None:
    """EventSerializer builds its dict by hand for speed; it must match the declared fields."""
    from rest_framework import serializers as drf

    from apps.events import selectors
    from apps.events.api.serializers import EventSerializer

    summer = datetime(2026, 7, 1, 18, 30, 15, 123456, tzinfo=UTC)
    event = EventFactory.create(
        start_date=summer,
        end_date=summer + timedelta(hours=2),
        capacity=None,
        status=Event.EventStatus.COMPLETED,
        completed_at=summer + timedelta(hours=2, seconds=1),
    )
    ParticipationFactory.create(event=event)
    loaded = selectors.with_counts(Event.objects.filter(pk=event.pk)).get()
    generic = drf.ModelSerializer.to_representation(EventSerializer(), loaded)
    assert EventSerializer(loaded).data == generic
    assert generic["start_date"] == "2026-07-01T19:30:15.123456+01:00"
