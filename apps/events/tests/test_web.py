"""The pages through Django's test client: who sees what, what forms refuse, what buttons do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from apps.events import editing, errors
from apps.events.models import Event, EventStatusChange, Participation
from apps.events.tests.factories import EventFactory, ParticipationFactory, UserFactory

pytestmark = pytest.mark.django_db
Status = Event.EventStatus
LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def alice() -> User:
    return UserFactory.create(username="alice")


@pytest.fixture
def bob() -> User:
    return UserFactory.create(username="bob")


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def titles(response: Any) -> list[str]:
    return [event.title for event in response.context["page"].object_list]


def soon(**delta: float) -> datetime:
    return timezone.now() + timedelta(**delta)


# --- discovery ---------------------------------------------------------------------------------


def test_discovery_lists_upcoming_and_ongoing_events_only(client: Client) -> None:
    for status in Status.values:
        EventFactory.create(title=f"The {status} one", status=status)
    response = client.get("/")
    assert response.status_code == 200
    assert sorted(titles(response)) == ["The CONFIRMED one", "The ONGOING one"]
    assert b"The COMPLETED one" not in response.content


def test_discovery_is_ordered_by_start_and_searchable_by_title(client: Client) -> None:
    EventFactory.create(title="Jazz night", start_date=soon(days=3))
    EventFactory.create(title="Jazz brunch", start_date=soon(days=1))
    EventFactory.create(title="Chess club", start_date=soon(days=2))
    assert titles(client.get("/")) == ["Jazz brunch", "Chess club", "Jazz night"]
    response = client.get("/", {"q": "jazz"})
    assert titles(response) == ["Jazz brunch", "Jazz night"]
    assert b'value="jazz"' in response.content
    assert b"No upcoming or ongoing event matches" in client.get("/", {"q": "opera"}).content


def test_discovery_reads_the_table_afresh_on_every_request(client: Client) -> None:
    # Its rows start from one queryset built at import (selectors.discovery).
    EventFactory(title="First", start_date=soon(days=1))
    assert titles(client.get("/")) == ["First"]
    EventFactory(title="Second", start_date=soon(days=2))
    assert titles(client.get("/")) == ["First", "Second"]


def test_discovery_costs_the_same_queries_for_many_events(
    client: Client, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    EventFactory.create_batch(25)
    ParticipationFactory.create_batch(5, event=Event.objects.first())
    with django_assert_max_num_queries(4):
        response = client.get("/")
    assert len(titles(response)) == 20
    assert b"Page 1 of 2" in response.content


# --- detail ------------------------------------------------------------------------------------


def test_someone_elses_draft_is_not_found(alice: User, bob: User) -> None:
    draft = EventFactory.create(organizer=alice, status=Status.DRAFT)
    assert Client().get(f"/events/{draft.pk}/").status_code == 404
    assert logged_in(bob).get(f"/events/{draft.pk}/").status_code == 404
    assert logged_in(alice).get(f"/events/{draft.pk}/").status_code == 200
    assert Client().get("/events/999999/").status_code == 404


def test_completed_event_stays_reachable_by_url(client: Client) -> None:
    event = EventFactory.create(status=Status.COMPLETED, title="Over now")
    response = client.get(f"/events/{event.pk}/")
    assert response.status_code == 200
    assert b'data-status="COMPLETED"' in response.content


@pytest.mark.parametrize(
    ("start_utc", "shown"),
    [
        (datetime(2026, 12, 5, 19, 0, tzinfo=UTC), "Sat 5 Dec 2026, 19:00 GMT"),
        (datetime(2026, 7, 4, 18, 30, tzinfo=UTC), "Sat 4 Jul 2026, 19:30 BST"),
    ],
)
def test_times_are_shown_in_london_time_with_the_zone_named(
    client: Client, start_utc: datetime, shown: str
) -> None:
    event = EventFactory.create(start_date=start_utc, end_date=start_utc + timedelta(hours=2))
    response = client.get(f"/events/{event.pk}/")
    assert shown in response.content.decode()


def test_detail_has_the_live_badge_and_its_script(client: Client) -> None:
    event = EventFactory.create(status=Status.ONGOING, start_date=soon(hours=-1))
    html = client.get(f"/events/{event.pk}/").content.decode()
    assert f'data-live-event="{event.pk}"' in html
    assert 'data-status-badge data-status="ONGOING"' in html
    assert "events/live.js" in html


def test_anonymous_visitor_is_invited_to_log_in_instead_of_join(client: Client) -> None:
    event = EventFactory.create()
    html = client.get(f"/events/{event.pk}/").content.decode()
    assert f"/accounts/login/?next=/events/{event.pk}/" in html
    assert f"/events/{event.pk}/join/" not in html


def test_organizer_sees_only_the_actions_allowed_now(alice: User, bob: User) -> None:
    draft = EventFactory.create(organizer=alice, status=Status.DRAFT, start_date=soon(days=1))
    html = logged_in(alice).get(f"/events/{draft.pk}/").content.decode()
    assert f"/events/{draft.pk}/confirm/" in html
    assert f"/events/{draft.pk}/cancel/" in html
    assert f"/events/{draft.pk}/complete/" not in html
    assert f"/events/{draft.pk}/edit/" in html
    ongoing = EventFactory.create(organizer=alice, status=Status.ONGOING, start_date=soon(hours=-1))
    html = logged_in(alice).get(f"/events/{ongoing.pk}/").content.decode()
    assert f"/events/{ongoing.pk}/complete/" in html
    assert f"/events/{ongoing.pk}/confirm/" not in html
    html = logged_in(bob).get(f"/events/{ongoing.pk}/").content.decode()
    assert f"/events/{ongoing.pk}/complete/" not in html
    assert f"/events/{ongoing.pk}/edit/" not in html


# --- join / leave ------------------------------------------------------------------------------


def test_join_and_leave_with_post_forms(bob: User) -> None:
    event = EventFactory.create()
    client = logged_in(bob)
    response = client.post(f"/events/{event.pk}/join/", follow=True)
    assert Participation.objects.filter(event=event, user=bob).exists()
    assert "You are in. See you there!" in messages_of(response)
    assert f"/events/{event.pk}/leave/" in response.content.decode()
    response = client.post(f"/events/{event.pk}/leave/", follow=True)
    assert not Participation.objects.filter(event=event, user=bob).exists()
    assert "You left the event." in messages_of(response)


def test_join_needs_post_and_a_login(client: Client, bob: User) -> None:
    event = EventFactory.create()
    assert logged_in(bob).get(f"/events/{event.pk}/join/").status_code == 405
    response = client.post(f"/events/{event.pk}/join/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not Participation.objects.exists()


def test_joining_a_completed_or_full_event_is_refused_with_a_message(bob: User) -> None:
    completed = EventFactory.create(status=Status.COMPLETED)
    response = logged_in(bob).post(f"/events/{completed.pk}/join/", follow=True)
    assert messages_of(response) == [
        "Could not join: Event is COMPLETED; only open events can be joined."
    ]
    full = EventFactory.create(capacity=1)
    ParticipationFactory.create(event=full)
    response = logged_in(bob).post(f"/events/{full.pk}/join/", follow=True)
    assert messages_of(response) == ["Could not join: Event is full."]
    assert not Participation.objects.filter(user=bob).exists()


def test_joining_someone_elses_draft_is_not_found(alice: User, bob: User) -> None:
    draft = EventFactory.create(organizer=alice, status=Status.DRAFT)
    assert logged_in(bob).post(f"/events/{draft.pk}/join/").status_code == 404


# --- organizer transitions ---------------------------------------------------------------------


def test_organizer_confirms_from_the_page_and_the_audit_says_web(alice: User) -> None:
    draft = EventFactory.create(organizer=alice, status=Status.DRAFT, start_date=soon(days=1))
    response = logged_in(alice).post(f"/events/{draft.pk}/confirm/", follow=True)
    assert "Event confirmed." in messages_of(response)
    draft.refresh_from_db()
    assert draft.status == Status.CONFIRMED
    change = EventStatusChange.objects.get(event=draft)
    assert (change.from_status, change.to_status, change.source, change.actor) == (
        Status.DRAFT,
        Status.CONFIRMED,
        "web",
        alice,
    )


def test_organizer_cancels_and_completes(alice: User) -> None:
    upcoming = EventFactory.create(organizer=alice)
    started = EventFactory.create(organizer=alice, status=Status.ONGOING, start_date=soon(hours=-1))
    client = logged_in(alice)
    client.post(f"/events/{upcoming.pk}/cancel/")
    client.post(f"/events/{started.pk}/complete/")
    assert Event.objects.get(pk=upcoming.pk).status == Status.CANCELLED
    assert Event.objects.get(pk=started.pk).status == Status.COMPLETED


def test_a_refused_transition_explains_why_and_changes_nothing(alice: User) -> None:
    past_draft = EventFactory.create(
        organizer=alice, status=Status.DRAFT, start_date=soon(hours=-1)
    )
    response = logged_in(alice).post(f"/events/{past_draft.pk}/confirm/", follow=True)
    assert messages_of(response) == [
        "Could not confirm the event: start_date must be in the future to confirm."
    ]
    assert Event.objects.get(pk=past_draft.pk).status == Status.DRAFT
    assert not EventStatusChange.objects.exists()


def test_only_the_organizer_may_change_the_status(alice: User, bob: User) -> None:
    event = EventFactory.create(organizer=alice)
    assert logged_in(bob).post(f"/events/{event.pk}/cancel/").status_code == 403
    assert Event.objects.get(pk=event.pk).status == Status.CONFIRMED
    assert logged_in(alice).get(f"/events/{event.pk}/confirm/").status_code == 405
    assert logged_in(bob).get(f"/events/{event.pk}/cancel/").status_code == 403
    assert logged_in(alice).post(f"/events/{event.pk}/archive/").status_code == 404


# --- my events ---------------------------------------------------------------------------------


def test_my_events_hides_completed_until_the_toggle_asks(alice: User, bob: User) -> None:
    EventFactory.create(organizer=alice, title="Mine, upcoming")
    EventFactory.create(organizer=alice, title="Mine, done", status=Status.COMPLETED)
    joined = EventFactory.create(organizer=bob, title="Joined, done", status=Status.COMPLETED)
    ParticipationFactory.create(event=joined, user=alice)
    EventFactory.create(organizer=bob, title="Not mine")
    client = logged_in(alice)

    response = client.get("/events/mine/")
    assert titles(response) == ["Mine, upcoming"]
    assert 'href="/events/mine/?completed=1"' in response.content.decode()
    assert 'aria-checked="false"' in response.content.decode()

    response = client.get("/events/mine/", {"completed": "1"})
    assert sorted(titles(response)) == ["Joined, done", "Mine, done", "Mine, upcoming"]
    assert 'href="/events/mine/?completed=0"' in response.content.decode()
    assert 'aria-checked="true"' in response.content.decode()

    assert titles(client.get("/events/mine/", {"completed": "0"})) == ["Mine, upcoming"]


def test_my_events_needs_a_login(client: Client) -> None:
    response = client.get("/events/mine/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/events/mine/"


# --- create and edit ---------------------------------------------------------------------------


def event_data(**overrides: str) -> dict[str, str]:
    data = {
        "title": "Summer party",
        "description": "Bring a friend.",
        "venue": "The park",
        "start_date": "2030-07-01T19:00",
        "end_date": "2030-07-01T23:30:15",
        "capacity": "",
    }
    data.update(overrides)
    return data


def test_new_event_is_a_draft_read_in_london_time(alice: User) -> None:
    response = logged_in(alice).post("/events/new/", event_data())
    event = Event.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/events/{event.pk}/"
    assert (event.organizer, event.status, event.capacity) == (alice, Status.DRAFT, None)
    # 19:00 in London in July is 18:00 UTC (BST).
    assert event.start_date == datetime(2030, 7, 1, 18, 0, tzinfo=UTC)
    assert event.end_date == datetime(2030, 7, 1, 23, 30, 15, tzinfo=LONDON)


def test_new_event_form_needs_a_login(client: Client) -> None:
    response = client.get("/events/new/")
    assert response["Location"] == "/accounts/login/?next=/events/new/"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"end_date": "2030-07-01T18:00"}, "end_date", "The end must be after the start."),
        ({"end_date": "2030-07-01T19:00"}, "end_date", "The end must be after the start."),
        ({"title": ""}, "title", "This field is required."),
        ({"start_date": ""}, "start_date", "This field is required."),
        ({"start_date": "tomorrow"}, "start_date", "Enter a valid date/time."),
        ({"capacity": "0"}, "capacity", "Ensure this value is greater than or equal to 1."),
        # 01:30 on the last Sunday of March does not exist in London: the clocks skip that hour.
        (
            {"start_date": "2030-03-31T01:30", "end_date": ""},
            "start_date",
            "2030-03-31 01:30:00 couldn\u2019t be interpreted in time zone Europe/London; "
            "it may be ambiguous or it may not exist.",
        ),
    ],
)
def test_new_event_form_shows_field_errors_and_creates_nothing(
    alice: User, overrides: dict[str, str], field: str, message: str
) -> None:
    response = logged_in(alice).post("/events/new/", event_data(**overrides))
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors == {field: [message]}
    html = response.content.decode()
    assert f'<ul class="field-errors" id="id_{field}-errors" role="alert">' in html
    assert html.count('class="field has-error"') == 1
    assert not Event.objects.exists()


def test_organizer_edits_a_confirmed_event(alice: User) -> None:
    event = EventFactory.create(organizer=alice, title="Old title")
    client = logged_in(alice)
    form_page = client.get(f"/events/{event.pk}/edit/")
    assert form_page.status_code == 200
    assert b'value="Old title"' in form_page.content
    response = client.post(f"/events/{event.pk}/edit/", event_data(title="New title"), follow=True)
    assert "Event saved." in messages_of(response)
    event.refresh_from_db()
    assert (event.title, event.status) == ("New title", Status.CONFIRMED)


def test_edit_errors_are_shown_on_the_field(alice: User) -> None:
    event = EventFactory.create(organizer=alice, title="Keep me")
    response = logged_in(alice).post(
        f"/events/{event.pk}/edit/", event_data(end_date="2030-06-30T10:00")
    )
    assert response.context["form"].errors == {"end_date": ["The end must be after the start."]}
    assert Event.objects.get(pk=event.pk).title == "Keep me"


@pytest.mark.parametrize("status", [Status.COMPLETED, Status.CANCELLED, Status.ARCHIVED])
def test_finished_events_cannot_be_edited(alice: User, status: str) -> None:
    event = EventFactory.create(organizer=alice, status=status, title="Frozen")
    client = logged_in(alice)
    response = client.post(f"/events/{event.pk}/edit/", event_data(), follow=True)
    assert messages_of(response) == [f"A {status.lower()} event cannot be edited."]
    assert Event.objects.get(pk=event.pk).title == "Frozen"
    assert f"/events/{event.pk}/edit/" not in client.get(f"/events/{event.pk}/").content.decode()


def test_update_event_refuses_an_event_finished_meanwhile(alice: User) -> None:
    event = EventFactory.create(organizer=alice, status=Status.COMPLETED)
    with pytest.raises(errors.EditRefused):
        editing.update_event(event.pk, title="Too late")


def test_only_the_organizer_may_edit(alice: User, bob: User) -> None:
    event = EventFactory.create(organizer=alice, title="Alice's")
    assert logged_in(bob).get(f"/events/{event.pk}/edit/").status_code == 403
    assert logged_in(bob).post(f"/events/{event.pk}/edit/", event_data()).status_code == 403
    assert Event.objects.get(pk=event.pk).title == "Alice's"


# --- accounts ----------------------------------------------------------------------------------


def test_sign_up_logs_the_new_user_in(client: Client) -> None:
    response = client.post(
        "/accounts/signup/",
        {
            "username": "carol",
            "email": "carol@example.com",
            "password1": "a sturdy passphrase 42",
            "password2": "a sturdy passphrase 42",
        },
        follow=True,
    )
    assert "Welcome, carol!" in messages_of(response)
    assert response.context["user"].username == "carol"
    assert User.objects.get(username="carol").email == "carol@example.com"


def test_sign_up_errors_are_shown_on_the_fields(client: Client, alice: User) -> None:
    response = client.post(
        "/accounts/signup/",
        {"username": "alice", "email": "", "password1": "a1", "password2": "b2"},
    )
    errors = response.context["form"].errors
    assert errors["username"] == ["A user with that username already exists."]
    assert errors["email"] == ["This field is required."]
    assert errors["password2"] == ["The two password fields didn\u2019t match."]
    assert User.objects.count() == 1


def test_log_in_and_log_out(client: Client, alice: User) -> None:
    assert client.get("/accounts/login/").status_code == 200
    response = client.post(
        "/accounts/login/",
        {"username": "alice", "password": "correct horse battery staple", "next": "/events/mine/"},
    )
    assert response["Location"] == "/events/mine/"
    assert client.get("/events/mine/").status_code == 200
    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/")["Location"] == "/"
    assert client.get("/events/mine/").status_code == 302


def test_wrong_password_is_refused_on_the_login_page(client: Client, alice: User) -> None:
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_staff_see_a_link_to_the_admin(alice: User) -> None:
    assert b'href="/admin/"' not in logged_in(alice).get("/").content
    staff = UserFactory.create(username="staff", is_staff=True)
    assert b'href="/admin/"' in logged_in(staff).get("/").content


def test_error_pages_keep_the_site_layout(alice: User, bob: User) -> None:
    response = Client().get("/events/999999/")
    assert response.status_code == 404
    assert b"<h1>Not found</h1>" in response.content
    event = EventFactory.create(organizer=alice)
    response = logged_in(bob).get(f"/events/{event.pk}/edit/")
    assert response.status_code == 403
    assert b"Only the organizer can edit an event." in response.content


# --- destructive actions ask first ------------------------------------------------------------


def test_cancel_on_the_event_page_asks_for_confirmation_first(alice: User) -> None:
    event = EventFactory.create(organizer=alice, title="Board games")
    ParticipationFactory.create_batch(2, event=event)
    client = logged_in(alice)
    html = client.get(f"/events/{event.pk}/").content.decode()
    # A link to the question, not a form that cancels in one click.
    assert f'action="/events/{event.pk}/cancel/"' not in html
    assert f'href="/events/{event.pk}/cancel/"' in html
    question = client.get(f"/events/{event.pk}/cancel/")
    assert question.status_code == 200
    page = question.content.decode()
    assert "Cancel “Board games”?" in page
    assert "to its 2 participants" in page
    assert "Yes, cancel the event" in page
    assert "Keep the event" in page
    assert Event.objects.get(pk=event.pk).status == Status.CONFIRMED
    client.post(f"/events/{event.pk}/cancel/")
    assert Event.objects.get(pk=event.pk).status == Status.CANCELLED


def test_a_draft_is_deleted_only_after_confirmation(alice: User, bob: User) -> None:
    draft = EventFactory.create(organizer=alice, status=Status.DRAFT, title="Picnic")
    client = logged_in(alice)
    assert (
        f'href="/events/{draft.pk}/delete/"' in client.get(f"/events/{draft.pk}/").content.decode()
    )
    assert (
        "Delete the draft “Picnic”?" in client.get(f"/events/{draft.pk}/delete/").content.decode()
    )
    assert Event.objects.filter(pk=draft.pk).exists()
    assert logged_in(bob).post(f"/events/{draft.pk}/delete/").status_code == 404
    response = client.post(f"/events/{draft.pk}/delete/", follow=True)
    assert messages_of(response) == ["Draft “Picnic” deleted."]
    assert not Event.objects.filter(pk=draft.pk).exists()


def test_a_confirmed_event_cannot_be_deleted_from_the_page(alice: User) -> None:
    event = EventFactory.create(organizer=alice)
    client = logged_in(alice)
    assert f"/events/{event.pk}/delete/" not in client.get(f"/events/{event.pk}/").content.decode()
    response = client.post(f"/events/{event.pk}/delete/", follow=True)
    assert messages_of(response) == [
        "Could not delete the event: Only DRAFT events can be deleted; cancel it instead."
    ]
    assert Event.objects.filter(pk=event.pk).exists()


def test_the_form_says_back_or_discard_never_cancel(alice: User) -> None:
    event = EventFactory.create(organizer=alice)
    client = logged_in(alice)
    for url in ("/events/new/", f"/events/{event.pk}/edit/"):
        html = client.get(url).content.decode()
        assert ">Cancel<" not in html, url


def test_a_completed_event_shows_no_empty_organizer_section(alice: User) -> None:
    done = EventFactory.create(
        organizer=alice, status=Status.COMPLETED, start_date=soon(days=-2), end_date=soon(days=-1)
    )
    html = logged_in(alice).get(f"/events/{done.pk}/").content.decode()
    assert "<h2>Organizer</h2>" not in html


def test_every_page_names_a_favicon(client: Client) -> None:
    html = client.get("/").content.decode()
    assert 'rel="icon"' in html
    assert "events/favicon.svg" in html
    assert client.get("/favicon.ico").status_code == 301
