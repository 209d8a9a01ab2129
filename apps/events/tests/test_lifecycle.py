"""The state machine and the sweeps, with the clock moved by time-machine (real PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from pytest_django import DjangoAssertNumQueries
from pytest_django.fixtures import SettingsWrapper

from apps.events import clock, errors, lifecycle, sql, transitions
from apps.events.models import Event, EventStatusChange
from apps.events.tests.factories import EventFactory, UserFactory

Status = Event.EventStatus
LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def ended(status: str = Status.CONFIRMED, ago: timedelta = timedelta(minutes=1)) -> Event:
    end = NOW - ago
    return EventFactory.create(status=status, start_date=end - timedelta(hours=2), end_date=end)


@pytest.fixture(autouse=True, params=["one statement", "portable"])
def sweep_implementation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs against both sweeps on PostgreSQL: the one statement production
    uses, and the portable one `make dev` uses on SQLite (which would otherwise only be reached
    by the SQLite smoke test)."""
    if request.param == "portable":
        monkeypatch.setattr(sql, "is_postgresql", lambda: False)
    return str(request.param)


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def statuses(*events: Event) -> list[str]:
    return [Event.objects.get(pk=e.pk).status for e in events]


def test_now_is_the_moved_clock() -> None:
    assert clock.now() == NOW


def test_ended_confirmed_event_becomes_completed() -> None:
    event = ended(Status.CONFIRMED)
    assert len(lifecycle.complete_ended()) == 1
    event.refresh_from_db()
    assert event.status == Status.COMPLETED
    assert event.completed_at == NOW


def test_ended_ongoing_event_becomes_completed() -> None:
    event = ended(Status.ONGOING)
    lifecycle.complete_ended()
    assert statuses(event) == [Status.COMPLETED]


def test_events_not_due_are_untouched() -> None:
    future = EventFactory.create(
        start_date=NOW + timedelta(hours=1), end_date=NOW + timedelta(hours=2)
    )
    draft = ended(Status.DRAFT)
    cancelled = ended(Status.CANCELLED)
    no_end = EventFactory.create(
        status=Status.ONGOING, start_date=NOW - timedelta(days=3), end_date=None
    )
    ends_now = EventFactory.create(
        status=Status.ONGOING, start_date=NOW - timedelta(hours=1), end_date=NOW
    )

    assert lifecycle.complete_ended() == []
    assert statuses(future, draft, cancelled, no_end, ends_now) == [
        Status.CONFIRMED,
        Status.DRAFT,
        Status.CANCELLED,
        Status.ONGOING,
        Status.ONGOING,
    ]
    assert not EventStatusChange.objects.exists()


def test_event_ending_exactly_now_completes_a_microsecond_later(
    frozen_clock: time_machine.Coordinates,
) -> None:
    event = EventFactory.create(
        status=Status.ONGOING, start_date=NOW - timedelta(hours=1), end_date=NOW
    )
    assert lifecycle.complete_ended() == []
    frozen_clock.shift(timedelta(microseconds=1))
    assert [c.event_id for c in lifecycle.complete_ended()] == [event.pk]


def test_sweep_returns_the_count_and_a_second_run_returns_zero() -> None:
    for _ in range(3):
        ended()
    ended(Status.ONGOING)
    assert len(lifecycle.complete_ended()) == 4
    assert lifecycle.complete_ended() == []


def test_sweep_writes_one_audit_row_per_event() -> None:
    confirmed, ongoing = ended(Status.CONFIRMED), ended(Status.ONGOING)
    lifecycle.complete_ended()
    lifecycle.complete_ended()
    rows = list(
        EventStatusChange.objects.order_by("event_id").values_list(
            "event_id", "from_status", "to_status", "at", "actor", "source"
        )
    )
    assert rows == [
        (confirmed.pk, Status.CONFIRMED, Status.COMPLETED, NOW, None, "task"),
        (ongoing.pk, Status.ONGOING, Status.COMPLETED, NOW, None, "task"),
    ]


@pytest.mark.parametrize("fold", [0, 1], ids=["first-01:30-BST", "second-01:30-GMT"])
def test_event_ending_in_the_repeated_october_hour_completes_at_the_right_instant(
    frozen_clock: time_machine.Coordinates, fold: int
) -> None:
    # 2026-10-25: London clocks go back at 02:00 BST, so 01:00-02:00 happens twice.
    # Arithmetic in UTC: adding a timedelta to a London datetime is wall-clock arithmetic.
    end = datetime(2026, 10, 25, 1, 30, fold=fold, tzinfo=LONDON).astimezone(UTC)
    event = EventFactory.create(
        status=Status.ONGOING, start_date=end - timedelta(hours=3), end_date=end
    )
    assert Event.objects.get(pk=event.pk).end_date == end
    assert end == datetime(2026, 10, 25, fold, 30, tzinfo=UTC)

    frozen_clock.move_to(end - timedelta(seconds=1))
    assert lifecycle.complete_ended() == []
    if fold == 1:
        # 01:45 BST comes after 01:30 on the wall clock but before 01:30 GMT in real time.
        frozen_clock.move_to(datetime(2026, 10, 25, 1, 45, fold=0, tzinfo=LONDON))
        assert lifecycle.complete_ended() == []
    frozen_clock.move_to(end + timedelta(seconds=1))
    assert [c.event_id for c in lifecycle.complete_ended()] == [event.pk]


def test_event_ending_just_after_the_skipped_march_hour(
    frozen_clock: time_machine.Coordinates,
) -> None:
    # 2026-03-29: 01:00 GMT jumps to 02:00 BST; 01:59 GMT and 02:00 BST are one minute apart.
    end = datetime(2026, 3, 29, 2, 0, tzinfo=LONDON)
    event = EventFactory.create(
        status=Status.ONGOING, start_date=end - timedelta(hours=3), end_date=end
    )
    frozen_clock.move_to(datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC))
    assert lifecycle.complete_ended() == []
    frozen_clock.move_to(datetime(2026, 3, 29, 1, 0, 1, tzinfo=UTC))
    assert [c.event_id for c in lifecycle.complete_ended()] == [event.pk]


@pytest.mark.parametrize("due", [1, 1000])
def test_sweep_query_count_does_not_depend_on_how_many_are_due(
    django_assert_max_num_queries: DjangoAssertNumQueries, due: int, sweep_implementation: str
) -> None:
    organizer = UserFactory.create()
    Event.objects.bulk_create(
        Event(
            title=f"e{i}",
            organizer=organizer,
            start_date=NOW - timedelta(hours=2),
            end_date=NOW - timedelta(minutes=1),
            status=Status.CONFIRMED,
        )
        for i in range(due)
    )
    # The portable sweep: SELECT, UPDATE, INSERT, inside a savepoint (SAVEPOINT, RELEASE).
    most = 3 if sweep_implementation == "one statement" else 5
    with django_assert_max_num_queries(most):
        assert len(lifecycle.complete_ended()) == due
    assert EventStatusChange.objects.count() == due


def test_started_confirmed_event_becomes_ongoing() -> None:
    event = EventFactory.create(
        start_date=NOW - timedelta(minutes=1), end_date=NOW + timedelta(hours=1)
    )
    later = EventFactory.create(
        start_date=NOW + timedelta(minutes=1), end_date=NOW + timedelta(hours=1)
    )
    changes = lifecycle.start_started()
    assert [(c.event_id, c.from_status, c.to_status) for c in changes] == [
        (event.pk, Status.CONFIRMED, Status.ONGOING)
    ]
    assert statuses(event, later) == [Status.ONGOING, Status.CONFIRMED]


def test_confirmed_event_already_over_goes_straight_to_completed_once() -> None:
    event = ended(Status.CONFIRMED)
    lifecycle.start_started()
    lifecycle.complete_ended()
    assert list(EventStatusChange.objects.values_list("from_status", "to_status")) == [
        (Status.CONFIRMED, Status.COMPLETED)
    ]
    assert statuses(event) == [Status.COMPLETED]


def test_old_completed_event_is_archived(settings: SettingsWrapper) -> None:
    settings.ARCHIVE_AFTER_DAYS = 90
    old = ended(Status.COMPLETED, ago=timedelta(days=91))
    recent = ended(Status.COMPLETED, ago=timedelta(days=89))
    assert [c.event_id for c in lifecycle.archive_completed()] == [old.pk]
    old.refresh_from_db()
    assert (old.status, old.archived_at) == (Status.ARCHIVED, NOW)
    assert statuses(recent) == [Status.COMPLETED]


class TestManualTransitions:
    def test_organizer_confirms_a_future_draft(self) -> None:
        event = EventFactory.create(status=Status.DRAFT)
        lifecycle.confirm(event.pk, actor=event.organizer)
        assert statuses(event) == [Status.CONFIRMED]
        change = EventStatusChange.objects.get()
        assert (change.from_status, change.to_status, change.actor, change.source) == (
            Status.DRAFT,
            Status.CONFIRMED,
            event.organizer,
            "api",
        )

    def test_draft_that_already_started_cannot_be_confirmed(self) -> None:
        event = EventFactory.create(status=Status.DRAFT, start_date=NOW - timedelta(minutes=1))
        with pytest.raises(errors.InvalidTransition, match="future"):
            lifecycle.confirm(event.pk)
        assert statuses(event) == [Status.DRAFT]

    def test_complete_before_start_is_refused(self) -> None:
        event = EventFactory.create(status=Status.CONFIRMED)
        with pytest.raises(errors.InvalidTransition, match="not started"):
            lifecycle.complete(event.pk)

    def test_organizer_completes_a_started_event(self) -> None:
        event = EventFactory.create(status=Status.ONGOING, start_date=NOW - timedelta(hours=1))
        lifecycle.complete(event.pk)
        event.refresh_from_db()
        assert (event.status, event.completed_at) == (Status.COMPLETED, NOW)

    @pytest.mark.parametrize("status", [Status.DRAFT, Status.CONFIRMED, Status.ONGOING])
    def test_cancel_from_any_open_status(self, status: str) -> None:
        event = EventFactory.create(status=status)
        lifecycle.cancel(event.pk)
        assert statuses(event) == [Status.CANCELLED]

    @pytest.mark.parametrize("action", ["confirm", "complete", "cancel"])
    @pytest.mark.parametrize("status", [Status.COMPLETED, Status.CANCELLED, Status.ARCHIVED])
    def test_closed_events_refuse_every_manual_transition(self, action: str, status: str) -> None:
        event = ended(status)
        with pytest.raises(errors.InvalidTransition):
            getattr(lifecycle, action)(event.pk)
        assert statuses(event) == [status]
        assert not EventStatusChange.objects.exists()

    def test_the_state_machine_lists_exactly_the_contract_edges(self) -> None:
        assert {
            (Status.DRAFT, Status.CONFIRMED),
            (Status.CONFIRMED, Status.ONGOING),
            (Status.CONFIRMED, Status.COMPLETED),
            (Status.ONGOING, Status.COMPLETED),
            (Status.DRAFT, Status.CANCELLED),
            (Status.CONFIRMED, Status.CANCELLED),
            (Status.ONGOING, Status.CANCELLED),
            (Status.COMPLETED, Status.ARCHIVED),
        } == transitions.ALLOWED


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_complete_each_event_exactly_once() -> None:
    assert connection.vendor == "postgresql"
    organizer = UserFactory.create()
    Event.objects.bulk_create(
        Event(
            title=f"e{i}",
            organizer=organizer,
            start_date=NOW - timedelta(hours=2),
            end_date=NOW - timedelta(minutes=1),
            status=Status.ONGOING,
        )
        for i in range(5000)
    )
    barrier = threading.Barrier(2)
    counts: list[int] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            barrier.wait()
            counts.append(len(lifecycle.complete_ended(NOW)))
        except BaseException as exc:  # reported below, a thread cannot fail the test itself
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(counts) == 5000
    assert Event.objects.filter(status=Status.COMPLETED).count() == 5000
    assert EventStatusChange.objects.count() == 5000
    assert EventStatusChange.objects.values("event_id").distinct().count() == 5000
