"""Calendar files (CONTRACT §10), read back with the `icalendar` library as a client would."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast

import icalendar
import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from apps.events import editing, lifecycle
from apps.events.models import Event, Participation
from apps.events.tests.factories import EventFactory, ParticipationFactory, UserFactory
from tests.support.api import assert_error
from tests.support.auth import token_for

Status = Event.EventStatus
pytestmark = pytest.mark.django_db

new_event = cast(Callable[..., Event], EventFactory)
new_user = cast(Callable[..., User], UserFactory)
new_participation = cast(Callable[..., Participation], ParticipationFactory)


def client_for(user: User | None = None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


def entries(body: bytes) -> dict[str, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(body)
    return {str(entry["UID"]): entry for entry in calendar.walk("VEVENT")}


def event_file(event: Event, client: APIClient | None = None) -> Any:
    return (client or APIClient()).get(f"/api/events/{event.pk}/calendar.ics")


def only_entry(response: Any) -> icalendar.Event:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    (entry,) = entries(response.content).values()
    return entry


def test_event_file_holds_the_event_with_its_instants() -> None:
    event = new_event(title="Launch", venue="Hall 1", description="Doors at nine")
    entry = only_entry(event_file(event))
    assert str(entry["UID"]) == f"event-{event.pk}@eventide"
    # iCalendar counts whole seconds.
    assert entry.decoded("DTSTART") == event.start_date.replace(microsecond=0)
    assert event.end_date is not None
    assert entry.decoded("DTEND") == event.end_date.replace(microsecond=0)
    assert str(entry["SUMMARY"]) == "Launch"
    assert str(entry["LOCATION"]) == "Hall 1"
    assert str(entry["STATUS"]) == "CONFIRMED"


def test_sequence_grows_on_every_date_or_status_change_and_cancel_strikes_it() -> None:
    organizer = new_user()
    event = new_event(organizer=organizer, status=Status.DRAFT)
    owner = client_for(organizer)
    seen = [int(only_entry(event_file(event, owner))["SEQUENCE"])]
    lifecycle.confirm(event.pk, actor=organizer)
    seen.append(int(only_entry(event_file(event))["SEQUENCE"]))
    editing.update_event(event.pk, start_date=event.start_date + timedelta(hours=1))
    seen.append(int(only_entry(event_file(event))["SEQUENCE"]))
    editing.update_event(event.pk, title="Renamed")  # not a date: the sequence may stay
    seen.append(int(only_entry(event_file(event))["SEQUENCE"]))
    lifecycle.cancel(event.pk, actor=organizer)
    cancelled = only_entry(event_file(event))
    seen.append(int(cancelled["SEQUENCE"]))
    assert seen[0] < seen[1] < seen[2] == seen[3] < seen[4]
    assert str(cancelled["STATUS"]) == "CANCELLED"


def test_setting_the_same_dates_does_not_bump_the_sequence() -> None:
    event = new_event()
    before = int(only_entry(event_file(event))["SEQUENCE"])
    editing.update_event(event.pk, start_date=event.start_date, end_date=event.end_date)
    assert int(only_entry(event_file(event))["SEQUENCE"]) == before


def test_event_file_is_as_visible_as_the_event() -> None:
    organizer = new_user()
    draft = new_event(organizer=organizer, status=Status.DRAFT)
    assert_error(event_file(draft), 404)
    assert_error(event_file(draft, client_for(new_user())), 404)
    assert only_entry(event_file(draft, client_for(organizer)))["STATUS"] == "TENTATIVE"
    assert_error(APIClient().get("/api/events/999999/calendar.ics"), 404)


def test_a_client_that_accepts_only_calendars_gets_the_file() -> None:
    event = new_event()
    response = APIClient().get(f"/api/events/{event.pk}/calendar.ics", HTTP_ACCEPT="text/calendar")
    only_entry(response)
    # An error stays the JSON body of CONTRACT §4 whatever the client accepts.
    missing = APIClient().get("/api/events/999999/calendar.ics", HTTP_ACCEPT="text/calendar")
    assert_error(missing, 404)


def test_event_file_answers_304_to_its_etag_until_the_event_changes() -> None:
    event = new_event()
    first = event_file(event)
    etag = first["ETag"]
    again = APIClient().get(f"/api/events/{event.pk}/calendar.ics", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    editing.update_event(event.pk, venue="Elsewhere")
    changed = APIClient().get(f"/api/events/{event.pk}/calendar.ics", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag


def feed_url(user: User) -> str:
    url = client_for(user).get("/api/auth/me/").json()["calendar_url"]
    assert url.startswith("http://testserver/calendars/")
    return str(url).removeprefix("http://testserver")


def test_personal_feed_holds_organized_and_joined_events_without_login() -> None:
    user = new_user()
    organized = new_event(organizer=user)
    joined = new_event()
    new_participation(event=joined, user=user)
    new_event()  # someone else's, not joined
    cancelled = new_event(organizer=user, status=Status.CANCELLED)
    response = APIClient().get(feed_url(user))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    found = entries(response.content)
    assert set(found) == {f"event-{e.pk}@eventide" for e in (organized, joined, cancelled)}
    assert str(found[f"event-{cancelled.pk}@eventide"]["STATUS"]) == "CANCELLED"


def test_personal_feed_answers_304_and_changes_with_an_event() -> None:
    user = new_user()
    event = new_event(organizer=user)
    url = feed_url(user)
    etag = APIClient().get(url)["ETag"]
    assert APIClient().get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    lifecycle.cancel(event.pk, actor=user)
    response = APIClient().get(url, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert str(entries(response.content)[f"event-{event.pk}@eventide"]["STATUS"]) == "CANCELLED"


def test_a_bad_or_reset_feed_token_is_404() -> None:
    user = new_user()
    old = feed_url(user)
    assert APIClient().get("/calendars/not-a-token.ics").status_code == 404
    reset = client_for(user).post("/api/auth/me/calendar/reset/")
    assert reset.status_code == 200
    new = str(reset.json()["calendar_url"]).removeprefix("http://testserver")
    assert new != old
    assert APIClient().get(old).status_code == 404
    assert APIClient().get(new).status_code == 200
    assert feed_url(user) == new


def test_feed_is_read_only_and_reset_needs_a_user() -> None:
    user = new_user()
    assert APIClient().post(feed_url(user)).status_code == 405
    assert_error(APIClient().post("/api/auth/me/calendar/reset/"), 401)
    assert client_for(user).get("/api/auth/me/calendar/reset/").status_code == 405


def test_every_profile_has_its_own_secret() -> None:
    first, second = new_user(), new_user()
    assert feed_url(first) != feed_url(second)


def test_pages_link_the_event_file_and_show_the_feed_address() -> None:
    user = new_user()
    event = new_event(organizer=user)
    client = Client()
    client.force_login(user)
    detail = client.get(f"/events/{event.pk}/").content.decode()
    assert f'href="/api/events/{event.pk}/calendar.ics"' in detail
    mine = client.get("/events/mine/").content.decode()
    assert f'value="http://testserver/calendars/{user.profile.calendar_token}.ics"' in mine


def test_times_are_local_to_the_event_zone_with_its_vtimezone() -> None:
    organizer = new_user()
    sydney = new_event(organizer=organizer, timezone="Australia/Sydney")
    body = event_file(sydney).content
    calendar = icalendar.Calendar.from_ical(body)
    (zone,) = calendar.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Australia/Sydney"
    entry = only_entry(event_file(sydney))
    start = entry["DTSTART"]
    assert start.params["TZID"] == "Australia/Sydney"
    assert entry.decoded("DTSTART") == sydney.start_date.replace(microsecond=0)


def test_a_feed_carries_one_vtimezone_per_zone_and_a_zone_change_bumps_the_sequence() -> None:
    user = new_user()
    first = new_event(organizer=user, timezone="Asia/Kolkata")
    new_event(organizer=user, timezone="Asia/Kolkata")
    new_event(organizer=user, timezone="America/New_York")
    url = feed_url(user)
    calendar = icalendar.Calendar.from_ical(APIClient().get(url).content)
    assert sorted(str(z["TZID"]) for z in calendar.walk("VTIMEZONE")) == [
        "America/New_York",
        "Asia/Kolkata",
    ]
    before = int(only_entry(event_file(first))["SEQUENCE"])
    editing.update_event(first.pk, timezone="Pacific/Chatham")
    moved = only_entry(event_file(first))
    assert int(moved["SEQUENCE"]) == before + 1
    assert moved["DTSTART"].params["TZID"] == "Pacific/Chatham"
    assert moved.decoded("DTSTART") == first.start_date.replace(microsecond=0)
