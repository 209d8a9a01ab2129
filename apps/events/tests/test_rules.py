"""The write rules of CONTRACT §4 hold at every entry point: the API, the pages and the admin.

Capacity is never below the number of participants, an ONGOING event's start never moves into
the future, joining is refused on events that are not open for everyone, and the end comes after
the start within the years events happen in.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from apps.events import editing, errors, participation
from apps.events.models import Event, Participation
from apps.events.tests.factories import EventFactory, ParticipationFactory, UserFactory
from tests.support.auth import token_for

logger = logging.getLogger(__name__)

pytestmark = pytest.mark.django_db
Status = Event.EventStatus


def api_client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def ongoing(organizer: User, **kwargs: Any) -> Event:
    start = timezone.now() - timedelta(hours=1)
    return EventFactory.create(
        organizer=organizer,
        status=Status.ONGOING,
        start_date=start,
        end_date=start + timedelta(hours=5),
        **kwargs,
    )


def local(value: datetime) -> str:
    """A datetime as the pages' datetime-local inputs send it."""
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M:%S")


def form_data(event: Event, **overrides: Any) -> dict[str, str]:
    data = {
        "title": event.title,
        "description": event.description,
        "venue": event.venue,
        "start_date": local(event.start_date),
        "end_date": local(event.end_date) if event.end_date else "",
        "capacity": "" if event.capacity is None else str(event.capacity),
    }
    data.update(overrides)
    return data


def admin_data(event: Event, participants: list[User] = (), **overrides: Any) -> dict[str, Any]:  # type: ignore[assignment]
    """The admin change form of `event`, with its inlines, as a browser would post it."""
    start = timezone.localtime(event.start_date)
    end = timezone.localtime(event.end_date) if event.end_date else None
    existing = list(event.participations.order_by("id")) if event.pk else []
    data: dict[str, Any] = {
        "title": event.title,
        "description": event.description,
        "venue": event.venue,
        "organizer": str(event.organizer_id),
        "start_date_0": start.strftime("%Y-%m-%d"),
        "start_date_1": start.strftime("%H:%M:%S"),
        "end_date_0": end.strftime("%Y-%m-%d") if end else "",
        "end_date_1": end.strftime("%H:%M:%S") if end else "",
        "capacity": "" if event.capacity is None else str(event.capacity),
        "participations-TOTAL_FORMS": str(len(existing) + len(participants)),
        "participations-INITIAL_FORMS": str(len(existing)),
        "participations-MIN_NUM_FORMS": "0",
        "participations-MAX_NUM_FORMS": "1000",
        "status_changes-TOTAL_FORMS": "0",
        "status_changes-INITIAL_FORMS": "0",
        "status_changes-MIN_NUM_FORMS": "0",
        "status_changes-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(existing):
        data[f"participations-{i}-id"] = str(row.pk)
        data[f"participations-{i}-event"] = str(event.pk)
        data[f"participations-{i}-user"] = str(row.user_id)
    for i, user in enumerate(participants, start=len(existing)):
        data[f"participations-{i}-event"] = str(event.pk)
        data[f"participations-{i}-user"] = str(user.pk)
    data.update(overrides)
    return data


@pytest.fixture
def organizer() -> User:
    return UserFactory.create(username="olga")


@pytest.fixture
def staff() -> User:
    return UserFactory.create(username="root", is_staff=True, is_superuser=True)


def admin_url(event: Event) -> str:
    return f"/admin/events/event/{event.pk}/change/"


def admin_messages(response: Any) -> list[str]:
    """What the admin said: its messages and the errors of the form it showed again."""
    said = [str(m) for m in response.context["messages"]]
    form = response.context.get("adminform")
    if form is not None:
        said += [str(e) for errors in form.form.errors.values() for e in errors]
    return said


# --- capacity ----------------------------------------------------------------------------------


def test_the_edit_page_refuses_capacity_below_the_participants(organizer: User) -> None:
    event = EventFactory.create(organizer=organizer, capacity=10)
    ParticipationFactory.create_batch(3, event=event)
    response = logged_in(organizer).post(
        f"/events/{event.pk}/edit/", form_data(event, capacity="1")
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {"capacity": ["3 people have already joined."]}
    event.refresh_from_db()
    assert event.capacity == 10


def test_the_admin_refuses_capacity_below_the_participants(organizer: User, staff: User) -> None:
    event = EventFactory.create(organizer=organizer, capacity=10)
    ParticipationFactory.create_batch(3, event=event)
    response = logged_in(staff).post(admin_url(event), admin_data(event, capacity="1"), follow=True)
    assert "3 people have already joined." in " ".join(admin_messages(response))
    event.refresh_from_db()
    assert event.capacity == 10


def test_the_domain_refuses_capacity_below_the_participants(organizer: User) -> None:
    event = EventFactory.create(organizer=organizer)
    ParticipationFactory.create_batch(2, event=event)
    with pytest.raises(errors.InvalidValue) as refused:
        editing.update_event(event.pk, capacity=1)
    assert refused.value.field == "capacity"
    assert editing.update_event(event.pk, capacity=2).capacity == 2


def test_the_admin_participation_inline_joins_through_the_rules(
    organizer: User, staff: User
) -> None:
    event = EventFactory.create(organizer=organizer, capacity=1)
    first, second = UserFactory.create(), UserFactory.create()
    response = logged_in(staff).post(
        admin_url(event), admin_data(event, participants=[first, second]), follow=True
    )
    assert "Event is full." in " ".join(admin_messages(response))
    assert event.participations.count() == 0
    logged_in(staff).post(admin_url(event), admin_data(event, participants=[first]))
    assert list(event.participations.values_list("user", flat=True)) == [first.pk]


def test_the_admin_cannot_add_participants_to_a_closed_event(organizer: User, staff: User) -> None:
    event = EventFactory.create(organizer=organizer, status=Status.COMPLETED)
    response = logged_in(staff).post(
        admin_url(event), admin_data(event, participants=[UserFactory.create()]), follow=True
    )
    assert "only open events can be joined" in " ".join(admin_messages(response))
    assert not event.participations.exists()


RACE_ROUNDS = 6
RACE_JOINERS = 24


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(RACE_ROUNDS))
def test_capacity_patches_racing_with_joins_never_leave_more_participants_than_seats(
    round_: int,
) -> None:
    organizer = UserFactory.create(username=f"racer{round_}")
    event = EventFactory.create(organizer=organizer, capacity=None)
    joiners = [UserFactory.create() for _ in range(RACE_JOINERS)]
    clients = [api_client(user) for user in joiners]
    owner = api_client(organizer)
    barrier = threading.Barrier(RACE_JOINERS + 1)
    errors: list[BaseException] = []
    patched: list[int] = []

    def run(work: Callable[[], object]) -> None:
        try:
            barrier.wait()
            work()
        except BaseException as exc:  # reported below: a thread cannot fail the test itself
            errors.append(exc)
        finally:
            connection.close()

    def join(client: APIClient) -> Callable[[], object]:
        return lambda: client.post(f"/api/events/{event.pk}/join/")

    def shrink() -> None:
        for capacity in (20, 12, 6, 3):
            response = owner.patch(
                f"/api/events/{event.pk}/", {"capacity": capacity}, format="json"
            )
            if response.status_code == 200:
                patched.append(capacity)

    threads = [threading.Thread(target=run, args=(join(client),)) for client in clients]
    threads.append(threading.Thread(target=run, args=(shrink,)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    event.refresh_from_db()
    taken = event.participations.count()
    logger.info(
        f"race round {round_}: capacity {event.capacity}, participants {taken}, "
        f"patches accepted {patched}"
    )
    assert event.capacity is None or taken <= event.capacity


# --- an ONGOING event's start ------------------------------------------------------------------


def test_the_api_refuses_moving_an_ongoing_start_into_the_future(organizer: User) -> None:
    event = ongoing(organizer)
    later = (timezone.now() + timedelta(days=10)).isoformat()
    response = api_client(organizer).patch(
        f"/api/events/{event.pk}/", {"start_date": later, "end_date": None}, format="json"
    )
    assert response.status_code == 409, response.content
    assert "ONGOING" in response.json()["detail"]
    event.refresh_from_db()
    assert event.start_date < timezone.now()


def test_an_ongoing_start_may_still_move_within_the_past(organizer: User) -> None:
    event = ongoing(organizer)
    earlier = (event.start_date - timedelta(minutes=30)).isoformat()
    response = api_client(organizer).patch(
        f"/api/events/{event.pk}/", {"start_date": earlier}, format="json"
    )
    assert response.status_code == 200, response.content


def test_the_edit_page_refuses_moving_an_ongoing_start_into_the_future(organizer: User) -> None:
    event = ongoing(organizer)
    later = timezone.now() + timedelta(days=10)
    response = logged_in(organizer).post(
        f"/events/{event.pk}/edit/",
        form_data(event, start_date=local(later), end_date=local(later + timedelta(hours=2))),
    )
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["start_date"]
    event.refresh_from_db()
    assert event.start_date < timezone.now()


def test_the_admin_refuses_moving_an_ongoing_start_into_the_future(
    organizer: User, staff: User
) -> None:
    event = ongoing(organizer)
    later = timezone.localtime(timezone.now() + timedelta(days=10))
    response = logged_in(staff).post(
        admin_url(event),
        admin_data(
            event,
            start_date_0=later.strftime("%Y-%m-%d"),
            start_date_1=later.strftime("%H:%M:%S"),
            end_date_0="",
            end_date_1="",
        ),
        follow=True,
    )
    assert "ONGOING" in " ".join(admin_messages(response))
    event.refresh_from_db()
    assert event.start_date < timezone.now()


# --- joining -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.COMPLETED, Status.CANCELLED, Status.ARCHIVED])
def test_someone_who_had_joined_cannot_join_a_closed_event_again(
    organizer: User, status: str
) -> None:
    event = EventFactory.create(organizer=organizer, status=status)
    participant = UserFactory.create()
    ParticipationFactory.create(event=event, user=participant)
    response = api_client(participant).post(f"/api/events/{event.pk}/join/")
    assert response.status_code == 409, response.content
    with pytest.raises(errors.ParticipationRefused):
        participation.join(event.pk, participant)
    page = logged_in(participant).post(f"/events/{event.pk}/join/", follow=True)
    assert [str(m) for m in page.context["messages"]] == [
        f"Could not join: Event is {status}; only open events can be joined."
    ]


# --- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize("start", ["0001-01-01T10:00", "1969-12-31T23:00", "3000-01-01T10:00"])
def test_the_new_event_page_bounds_dates_like_the_api(organizer: User, start: str) -> None:
    response = logged_in(organizer).post(
        "/events/new/", {"title": "Old", "start_date": start, "end_date": "", "capacity": ""}
    )
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["start_date"]
    api = api_client(organizer).post(
        "/api/events/", {"title": "Old", "start_date": start}, format="json"
    )
    assert api.status_code == 400
    assert api.json()["start_date"] == response.context["form"].errors["start_date"]
    assert not Event.objects.exists()


def test_end_after_start_is_one_rule_with_one_message(organizer: User) -> None:
    start = datetime(2030, 7, 1, 18, 0, tzinfo=UTC)
    with pytest.raises(errors.InvalidValue) as refused:
        editing.create_event(organizer, title="x", start_date=start, end_date=start)
    api = api_client(organizer).post(
        "/api/events/",
        {"title": "x", "start_date": start.isoformat(), "end_date": start.isoformat()},
        format="json",
    )
    assert api.json() == {"end_date": [refused.value.message]}
    event = EventFactory.create(organizer=organizer, capacity=None)
    response = logged_in(organizer).post(
        f"/events/{event.pk}/edit/", form_data(event, end_date=local(event.start_date))
    )
    assert response.context["form"].errors == {"end_date": [refused.value.message]}
    assert not Participation.objects.exists()


def test_the_admin_creates_drafts_through_the_rules(organizer: User, staff: User) -> None:
    blank = Event(
        organizer=organizer,
        title="From the admin",
        start_date=timezone.now() + timedelta(days=3),
        end_date=None,
    )
    data = admin_data(blank)
    early = timezone.localtime(blank.start_date - timedelta(hours=1))
    refused = logged_in(staff).post(
        "/admin/events/event/add/",
        {
            **data,
            "end_date_0": early.strftime("%Y-%m-%d"),
            "end_date_1": early.strftime("%H:%M:%S"),
        },
        follow=True,
    )
    assert "The end must be after the start." in " ".join(admin_messages(refused))
    assert not Event.objects.exists()
    response = logged_in(staff).post("/admin/events/event/add/", data)
    assert response.status_code == 302, response.content
    event = Event.objects.get()
    assert (event.title, event.status, event.organizer) == (
        "From the admin",
        Status.DRAFT,
        organizer,
    )
