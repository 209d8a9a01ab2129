"""Per-event time zones (CONTRACT §2 "Time zones"): read, stored, shown, mailed and exported.

Over zones with half- and quarter-hour offsets and both hemispheres: a naive local time read in
the event's zone and rendered again is itself away from DST changes; the spring gap is refused;
the autumn overlap is its first occurrence; saving an event unchanged never moves it (pretix
#4442); an event across a DST change moves at the right instants.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import time_machine
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from apps.accounts.models import Profile
from apps.events import errors, lifecycle, participation, reminders, zones
from apps.events.api.serializers import EventSerializer
from apps.events.models import Event
from apps.events.reminders.rendering import calendar_for
from apps.events.tests.factories import EventFactory, UserFactory
from apps.events.tests.test_rules import admin_data
from tests.support.auth import token_for

Status = Event.EventStatus
ZONES = [
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Sydney",
    "Pacific/Chatham",
    "Europe/London",
]
YEAR = 2030
QUARTER_HOUR = timedelta(minutes=15)


def changes(name: str, year: int = YEAR) -> list[tuple[datetime, timedelta, timedelta]]:
    """The zone's offset changes in `year`: (UTC instant, offset before, offset after)."""
    tz = ZoneInfo(name)
    found = []
    at = datetime(year, 1, 1, tzinfo=UTC)
    before = at.astimezone(tz).utcoffset()
    while at.year == year:
        at += QUARTER_HOUR
        after = at.astimezone(tz).utcoffset()
        if after != before:
            assert before is not None
            assert after is not None
            found.append((at, before, after))
        before = after
    return found


def gap_of(name: str) -> datetime:
    """A naive local time in the spring gap (clocks go forward over it)."""
    at, before, after = next(c for c in changes(name) if c[2] > c[1])
    return (at + before).replace(tzinfo=None) + (after - before) / 2


def overlap_of(name: str) -> tuple[datetime, datetime, datetime]:
    """A naive local time the autumn overlap repeats, and the instants of its two occurrences."""
    at, before, after = next(c for c in changes(name) if c[2] < c[1])
    naive = (at + after).replace(tzinfo=None) + (before - after) / 2
    return naive, (naive - before).replace(tzinfo=UTC), (naive - after).replace(tzinfo=UTC)


WITH_DST = [name for name in ZONES if changes(name)]


def near_a_change(name: str, naive: datetime) -> bool:
    tz = ZoneInfo(name)
    return bool(
        naive.replace(tzinfo=tz, fold=0).utcoffset() != naive.replace(tzinfo=tz, fold=1).utcoffset()
    )


def api_for(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rendered_local(text: str) -> tuple[datetime, timedelta | None]:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=None), parsed.utcoffset()


@pytest.fixture
def organizer() -> User:
    return UserFactory.create(username="tess")


def test_the_test_zones_have_half_quarter_hour_and_southern_changes() -> None:
    assert set(WITH_DST) == set(ZONES) - {"Asia/Kolkata"}
    assert ZoneInfo("Asia/Kolkata").utcoffset(datetime(YEAR, 1, 1)) == timedelta(
        hours=5, minutes=30
    )
    chatham = {after for _, _, after in changes("Pacific/Chatham")}
    assert chatham == {timedelta(hours=12, minutes=45), timedelta(hours=13, minutes=45)}


# -- The rule itself, as a property ------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(ZONES),
    naive=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 12, 31)),
)
def test_local_time_to_instant_to_rendered_local_is_the_identity_away_from_dst(
    name: str, naive: datetime
) -> None:
    naive = naive.replace(microsecond=0)
    if near_a_change(name, naive):
        return
    instant = zones.read_local(naive, ZoneInfo(name), "start_date")
    event = Event(timezone=name, start_date=instant)
    text = EventSerializer().to_representation(_with_organizer(event))["start_date"]
    local, offset = rendered_local(text)
    assert local == naive
    assert offset == ZoneInfo(name).utcoffset(naive)


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(ZONES), instant=st.integers(0, 4_000_000_000))
def test_an_aware_time_is_kept_as_the_instant_it_names(name: str, instant: int) -> None:
    at = datetime.fromtimestamp(instant, UTC)
    assert zones.read_local(at, ZoneInfo(name), "start_date") == at


@pytest.mark.parametrize("name", WITH_DST)
def test_the_spring_gap_is_refused_naming_the_field(name: str) -> None:
    with pytest.raises(errors.InvalidValue) as refused:
        zones.read_local(gap_of(name), ZoneInfo(name), "end_date")
    assert refused.value.field == "end_date"
    assert name in refused.value.message


@pytest.mark.parametrize("name", WITH_DST)
def test_the_autumn_overlap_is_its_first_occurrence(name: str) -> None:
    naive, first, _ = overlap_of(name)
    assert zones.read_local(naive, ZoneInfo(name), "start_date") == first


def _with_organizer(event: Event) -> Event:
    event.organizer = User(pk=1, username="x")
    event.pk = 1
    return event


# -- The API -----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", ZONES)
def test_api_reads_naive_times_in_the_zone_sent_and_renders_its_offset(
    organizer: User, name: str
) -> None:
    response = api_for(organizer).post(
        "/api/events/",
        {
            "title": "Local",
            "timezone": name,
            "start_date": f"{YEAR}-07-01T09:00:00",
            "end_date": f"{YEAR}-07-01T17:30:00",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    event = Event.objects.get(pk=body["id"])
    tz = ZoneInfo(name)
    assert event.timezone == body["timezone"] == name
    assert event.start_date == datetime(YEAR, 7, 1, 9, 0, tzinfo=tz)
    assert event.end_date == datetime(YEAR, 7, 1, 17, 30, tzinfo=tz)
    assert rendered_local(body["start_date"]) == (
        datetime(YEAR, 7, 1, 9),
        tz.utcoffset(event.start_date.replace(tzinfo=None)),
    )
    assert body["end_date"].startswith(f"{YEAR}-07-01T17:30:00")


@pytest.mark.django_db
def test_a_new_event_without_a_zone_is_in_time_zone(organizer: User) -> None:
    response = api_for(organizer).post(
        "/api/events/", {"title": "x", "start_date": f"{YEAR}-07-01T09:00:00"}, format="json"
    )
    assert response.json()["timezone"] == "Europe/London"
    assert response.json()["start_date"] == f"{YEAR}-07-01T09:00:00+01:00"


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["Mars/Olympus", "", "../../etc/passwd", "europe/london", 5, None])
def test_an_unknown_zone_is_400_naming_timezone(organizer: User, bad: object) -> None:
    response = api_for(organizer).post(
        "/api/events/",
        {"title": "x", "timezone": bad, "start_date": f"{YEAR}-07-01T09:00:00"},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["timezone"]
    assert not Event.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("name", WITH_DST)
@pytest.mark.parametrize("field", ["start_date", "end_date"])
def test_api_refuses_a_time_in_the_spring_gap_naming_the_field(
    organizer: User, name: str, field: str
) -> None:
    gap = gap_of(name)
    times = {"start_date": gap - timedelta(days=1), "end_date": gap + timedelta(days=1)}
    times[field] = gap
    body = {"title": "x", "timezone": name, **{k: v.isoformat() for k, v in times.items()}}
    response = api_for(organizer).post("/api/events/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    event = EventFactory.create(organizer=organizer, timezone=name, status=Status.DRAFT)
    response = api_for(organizer).patch(
        f"/api/events/{event.pk}/", {field: gap.isoformat()}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == [field]


@pytest.mark.django_db
@pytest.mark.parametrize("name", WITH_DST)
def test_api_reads_the_autumn_overlap_as_its_first_occurrence(organizer: User, name: str) -> None:
    naive, first, _ = overlap_of(name)
    response = api_for(organizer).post(
        "/api/events/",
        {"title": "x", "timezone": name, "start_date": naive.isoformat()},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Event.objects.get().start_date == first


def _writable(body: dict[str, Any]) -> dict[str, Any]:
    names = ("title", "description", "venue", "timezone", "start_date", "end_date", "capacity")
    return {name: body[name] for name in names}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "when"),
    [(name, when) for name in ZONES for when in ("summer", "winter")]
    + [(name, when) for name in WITH_DST for when in ("overlap-first", "overlap-second")],
)
def test_patching_an_event_with_what_the_api_rendered_never_moves_it(
    organizer: User, name: str, when: str
) -> None:
    """pretix #4442: each save moved the start by the zone's offset."""
    if when.startswith("overlap"):
        _, first, second = overlap_of(name)
        start = first if when == "overlap-first" else second
    else:
        start = datetime(YEAR, 7 if when == "summer" else 1, 10, 8, 0, tzinfo=UTC)
    event = EventFactory.create(
        organizer=organizer,
        timezone=name,
        status=Status.CONFIRMED,
        start_date=start,
        end_date=start + timedelta(hours=3),
    )
    client = api_for(organizer)
    body = client.get(f"/api/events/{event.pk}/").json()
    for _ in range(3):
        body = client.patch(f"/api/events/{event.pk}/", _writable(body), format="json").json()
    event.refresh_from_db()
    assert (event.start_date, event.end_date) == (start, start + timedelta(hours=3))
    assert body["start_date"] == client.get(f"/api/events/{event.pk}/").json()["start_date"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", ZONES)
def test_patching_naive_local_times_as_shown_keeps_the_instants(organizer: User, name: str) -> None:
    start = datetime(YEAR, 5, 20, 7, 15, tzinfo=UTC)
    event = EventFactory.create(
        organizer=organizer, timezone=name, start_date=start, end_date=start + timedelta(hours=1)
    )
    client = api_for(organizer)
    shown = client.get(f"/api/events/{event.pk}/").json()
    naive = {f: rendered_local(shown[f])[0].isoformat() for f in ("start_date", "end_date")}
    assert client.patch(f"/api/events/{event.pk}/", naive, format="json").status_code == 200
    event.refresh_from_db()
    assert (event.start_date, event.end_date) == (start, start + timedelta(hours=1))


@pytest.mark.django_db
@pytest.mark.parametrize(("old", "new"), list(zip(ZONES, ZONES[1:] + ZONES[:1], strict=True)))
def test_changing_only_the_zone_keeps_the_instants_and_changes_the_offsets(
    organizer: User, old: str, new: str
) -> None:
    start = datetime(YEAR, 2, 3, 12, 0, tzinfo=UTC)
    event = EventFactory.create(
        organizer=organizer, timezone=old, start_date=start, end_date=start + timedelta(hours=2)
    )
    response = api_for(organizer).patch(
        f"/api/events/{event.pk}/", {"timezone": new}, format="json"
    )
    assert response.status_code == 200
    event.refresh_from_db()
    assert (event.timezone, event.start_date) == (new, start)
    assert datetime.fromisoformat(response.json()["start_date"]) == start
    assert (
        rendered_local(response.json()["start_date"])[1]
        == start.astimezone(ZoneInfo(new)).utcoffset()
    )


@pytest.mark.django_db
def test_a_zone_sent_with_naive_times_is_the_one_they_are_read_in(organizer: User) -> None:
    event = EventFactory.create(organizer=organizer, timezone="Europe/London", end_date=None)
    response = api_for(organizer).patch(
        f"/api/events/{event.pk}/",
        {"timezone": "Asia/Kolkata", "start_date": f"{YEAR}-01-10T09:00:00"},
        format="json",
    )
    assert response.status_code == 200
    event.refresh_from_db()
    assert event.start_date == datetime(YEAR, 1, 10, 3, 30, tzinfo=UTC)
    assert response.json()["start_date"] == f"{YEAR}-01-10T09:00:00+05:30"


@pytest.mark.django_db
def test_naive_discovery_filters_are_read_in_the_viewers_zone(organizer: User) -> None:
    event = EventFactory.create(start_date=datetime(YEAR, 7, 1, 0, 0, tzinfo=UTC), end_date=None)
    sydney = UserFactory.create(username="syd")
    Profile.objects.create(user=sydney, timezone="Australia/Sydney")
    query = {"starts_after": f"{YEAR}-07-01T10:00:00"}  # 10:00 AEST is 00:00 UTC
    assert [e["id"] for e in api_for(sydney).get("/api/events/", query).json()["results"]] == [
        event.pk
    ]
    query = {"starts_after": f"{YEAR}-07-01T10:00:01"}
    assert api_for(sydney).get("/api/events/", query).json()["results"] == []
    # Anonymous: TIME_ZONE, 01:00 BST is 00:00 UTC.
    anonymous = APIClient()
    query = {"starts_after": f"{YEAR}-07-01T01:00:00"}
    assert [e["id"] for e in anonymous.get("/api/events/", query).json()["results"]] == [event.pk]
    query = {"starts_after": f"{YEAR}-07-01T01:00:00+10:00"}
    assert len(anonymous.get("/api/events/", query).json()["results"]) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "value",
    ["garbage", f"{YEAR}-13-01T00:00", f"{YEAR}-03-31T01:30:00", "0001-01-01T00:00:00+05:00"],
)
def test_bad_or_non_existent_discovery_times_are_400(value: str) -> None:
    response = APIClient().get("/api/events/", {"starts_before": value})
    assert response.status_code == 400
    assert list(response.json()) == ["starts_before"]


# -- Pages and admin ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_shows_the_events_local_time_and_the_viewers_when_it_differs(
    organizer: User,
) -> None:
    event = EventFactory.create(
        organizer=organizer,
        timezone="Australia/Sydney",
        start_date=datetime(YEAR, 1, 10, 22, 0, tzinfo=UTC),  # 09:00 AEDT on the 11th
        end_date=None,
    )
    html = Client().get(f"/events/{event.pk}/").content.decode()
    assert "Fri 11 Jan 2030, 09:00 AEDT" in html
    assert "your time" not in html
    Profile.objects.create(user=organizer, timezone="America/New_York")
    html = logged_in(organizer).get(f"/events/{event.pk}/").content.decode()
    assert "Fri 11 Jan 2030, 09:00 AEDT" in html
    assert "Thu 10 Jan 2030, 17:00 EST your time" in html
    Profile.objects.filter(user=organizer).update(timezone="Australia/Sydney")
    assert "your time" not in logged_in(organizer).get(f"/events/{event.pk}/").content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("name", ZONES)
def test_the_edit_form_shows_and_reads_local_times_of_the_events_zone(
    organizer: User, name: str
) -> None:
    start = datetime(YEAR, 7, 1, 8, 0, tzinfo=UTC)
    event = EventFactory.create(
        organizer=organizer, timezone=name, status=Status.DRAFT, start_date=start, end_date=None
    )
    client = logged_in(organizer)
    form = client.get(f"/events/{event.pk}/edit/").context["form"]
    shown = form["start_date"].value()
    assert shown == start.astimezone(ZoneInfo(name)).replace(tzinfo=None)
    data = {
        "title": event.title,
        "timezone": name,
        "start_date": f"{YEAR}-08-01T10:00",
        "end_date": "",
        "capacity": "",
    }
    assert client.post(f"/events/{event.pk}/edit/", data).status_code == 302
    event.refresh_from_db()
    assert event.start_date == datetime(YEAR, 8, 1, 10, 0, tzinfo=ZoneInfo(name))


@pytest.mark.django_db
def test_saving_the_edit_form_unchanged_keeps_the_second_occurrence_of_an_overlap(
    organizer: User,
) -> None:
    naive, _, second = overlap_of("Europe/London")
    event = EventFactory.create(
        organizer=organizer, timezone="Europe/London", start_date=second, end_date=None
    )
    client = logged_in(organizer)
    data = {
        "title": event.title,
        "timezone": "Asia/Kolkata",  # only the zone changes
        "start_date": naive.strftime("%Y-%m-%dT%H:%M:%S"),
        "end_date": "",
        "capacity": "",
    }
    assert client.post(f"/events/{event.pk}/edit/", data).status_code == 302
    event.refresh_from_db()
    assert (event.timezone, event.start_date) == ("Asia/Kolkata", second)


@pytest.mark.django_db
def test_the_new_event_form_reads_the_zone_chosen_and_refuses_its_gap(organizer: User) -> None:
    client = logged_in(organizer)
    data = {"title": "Chatham", "timezone": "Pacific/Chatham", "end_date": "", "capacity": ""}
    gap = gap_of("Pacific/Chatham").strftime("%Y-%m-%dT%H:%M")
    response = client.post("/events/new/", {**data, "start_date": gap})
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["start_date"]
    response = client.post("/events/new/", {**data, "start_date": f"{YEAR}-07-01T09:00"})
    assert response.status_code == 302
    assert Event.objects.get().start_date == datetime(YEAR, 6, 30, 20, 15, tzinfo=UTC)


@pytest.mark.django_db
def test_the_new_event_form_starts_in_the_organizers_own_zone(organizer: User) -> None:
    assert logged_in(organizer).get("/events/new/").context["form"]["timezone"].value() == (
        "Europe/London"
    )
    Profile.objects.create(user=organizer, timezone="Pacific/Chatham")
    form = logged_in(organizer).get("/events/new/").context["form"]
    assert form["timezone"].value() == "Pacific/Chatham"


@pytest.mark.django_db
def test_the_admin_reads_and_shows_times_in_the_events_zone(organizer: User) -> None:
    staff = UserFactory.create(username="root", is_staff=True, is_superuser=True)
    event = EventFactory.create(
        organizer=organizer,
        timezone="America/New_York",
        status=Status.DRAFT,
        start_date=datetime(YEAR, 7, 1, 13, 0, tzinfo=UTC),  # 09:00 EDT
        end_date=None,
    )
    client = logged_in(staff)
    url = f"/admin/events/event/{event.pk}/change/"
    html = client.get(url).content.decode()
    assert 'value="01/07/2030"' in html
    assert 'value="09:00:00"' in html
    data = admin_data(
        event, timezone="America/New_York", start_date_1="09:00:00", start_date_0=f"{YEAR}-07-01"
    )
    assert client.post(url, {**data, "start_date_1": "10:30:00"}).status_code == 302
    event.refresh_from_db()
    assert event.start_date == datetime(YEAR, 7, 1, 14, 30, tzinfo=UTC)
    data = admin_data(event, timezone="Nowhere/Else")
    response = client.post(url, data)
    assert response.status_code == 200
    assert "timezone" in response.context["adminform"].form.errors


# -- The lifecycle across a DST change ---------------------------------------------------------


@pytest.fixture
def frozen() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(datetime(YEAR - 1, 1, 1, tzinfo=UTC), tick=False) as traveller:
        yield traveller


@pytest.mark.django_db
@pytest.mark.parametrize("name", WITH_DST)
@pytest.mark.parametrize("direction", ["forward", "back"])
def test_an_event_across_a_dst_change_moves_at_its_instants(
    frozen: time_machine.Coordinates, organizer: User, name: str, direction: str
) -> None:
    at, before, after = next(c for c in changes(name) if (c[2] > c[1]) == (direction == "forward"))
    tz = ZoneInfo(name)
    # Typed as local times on either side of the change: two wall-clock hours before it and
    # two after it, so the real length differs from four hours by the size of the change.
    start_local = (at + before).replace(tzinfo=None) - timedelta(hours=2)
    end_local = (at + after).replace(tzinfo=None) + timedelta(hours=2)
    response = api_for(organizer).post(
        "/api/events/",
        {
            "title": "Across",
            "timezone": name,
            "start_date": start_local.isoformat(),
            "end_date": end_local.isoformat(),
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    event = Event.objects.get()
    assert event.start_date == at - timedelta(hours=2)
    assert event.end_date == at + timedelta(hours=2)
    assert event.end_date - event.start_date == timedelta(hours=4)
    assert rendered_local(response.json()["end_date"]) == (end_local, after)
    lifecycle.confirm(event.pk, actor=organizer)

    for moment, expected in [
        (event.start_date - timedelta(seconds=1), Status.CONFIRMED),
        (event.start_date, Status.ONGOING),
        (event.end_date, Status.ONGOING),
        (event.end_date + timedelta(seconds=1), Status.COMPLETED),
    ]:
        frozen.move_to(moment)
        lifecycle.start_started()
        lifecycle.complete_ended()
        event.refresh_from_db()
        assert event.status == expected, (moment.astimezone(tz), expected)


# -- Emails and the calendar file --------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", ZONES)
def test_the_calendar_file_has_the_events_local_times_with_its_zone(name: str) -> None:
    first = overlap_of(name)[1] if name in WITH_DST else datetime(YEAR, 4, 1, tzinfo=UTC)
    event = EventFactory.create(
        timezone=name, start_date=first, end_date=first + timedelta(hours=5)
    )
    calendar = icalendar.Calendar.from_ical(calendar_for(event))
    [entry] = calendar.walk("VEVENT")
    [vtimezone] = calendar.walk("VTIMEZONE")
    assert str(vtimezone["TZID"]) == name
    assert entry["DTSTART"].params["TZID"] == name
    tz = ZoneInfo(name)
    for key, value in (("dtstart", event.start_date), ("dtend", event.end_date)):
        decoded = entry.decoded(key)
        # In UTC: aware times in an overlap never equal one in another zone (PEP 495).
        assert decoded.astimezone(UTC) == value
        assert decoded.replace(tzinfo=None) == value.astimezone(tz).replace(tzinfo=None)


@pytest.mark.django_db
def test_the_second_occurrence_of_an_overlap_is_exported_as_that_instant() -> None:
    second = overlap_of("Europe/London")[2]
    event = EventFactory.create(timezone="Europe/London", start_date=second)
    [entry] = icalendar.Calendar.from_ical(calendar_for(event)).walk("VEVENT")
    assert entry.decoded("dtstart").astimezone(UTC) == event.start_date


@pytest.mark.django_db
def test_reminders_show_the_recipients_zone_else_the_events_always_named() -> None:
    start = datetime(YEAR, 1, 10, 22, 0, tzinfo=UTC)  # 09:00 AEDT on Fri 11th
    with time_machine.travel(start - timedelta(hours=3), tick=False):
        event = EventFactory.create(
            title="Harbour", timezone="Australia/Sydney", start_date=start, end_date=None
        )
        kolkata = UserFactory.create(username="kol", email="kol@example.com")
        Profile.objects.create(user=kolkata, timezone="Asia/Kolkata")
        plain = UserFactory.create(username="plain", email="plain@example.com")
        for user in (kolkata, plain):
            participation.join(event.pk, user)
        assert reminders.send_due() == 2
    by_recipient = {m.to[0]: m for m in mail.outbox}
    kol, other = by_recipient["kol@example.com"], by_recipient["plain@example.com"]
    # 22:00 UTC is 03:30 IST on the 11th.
    assert "Friday 11 January 2030, 03:30 IST (Asia/Kolkata)" in kol.body
    assert "Friday 11 January 2030, 09:00 AEDT (Australia/Sydney), the event's time" in kol.body
    assert "03:30 IST" in kol.subject
    assert "Friday 11 January 2030, 09:00 AEDT (Australia/Sydney)" in other.body
    assert "the event's time" not in other.body
    assert "09:00 AEDT" in other.subject
    for message in (kol, other):
        [(_, ics, _)] = message.attachments
        [entry] = icalendar.Calendar.from_ical(ics).walk("VEVENT")
        assert entry["DTSTART"].params["TZID"] == "Australia/Sydney"
        assert entry.decoded("dtstart") == start
