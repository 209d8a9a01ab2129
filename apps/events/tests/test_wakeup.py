"""The wake-up: one de-duplicated task at the next due moment, correct when lost, duplicated,
early, or when dates move after it was scheduled. Real PostgreSQL and Redis; the enqueue itself
is recorded instead of sent, so each test sees exactly what would reach the broker."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from pytest_django import DjangoCaptureOnCommitCallbacks
from pytest_django.fixtures import SettingsWrapper

from apps.events import effects, lifecycle, participation, scheduling, tasks
from apps.events.models import Event, EventStatusChange
from apps.events.tasks import send_event_reminder_emails
from apps.events.tests.factories import EventFactory, ParticipationFactory, UserFactory
from core.celery import app as celery_app

Status = Event.EventStatus
LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@dataclass
class Enqueued:
    wake_at: datetime
    countdown: float


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Enqueued]]:
    """What `scheduling` hands to the broker, in order; the Redis de-duplication key is real."""
    calls: list[Enqueued] = []

    send = celery_app.send_task

    def record(name: str, args: Sequence[str] = (), countdown: float = 0, **kwargs: Any) -> Any:
        if name != scheduling.WAKE_UP_TASK:
            return send(name, args, countdown=countdown, **kwargs)
        calls.append(Enqueued(datetime.fromtimestamp(float(args[0]), UTC), countdown))
        return None

    monkeypatch.setattr(celery_app, "send_task", record)
    monkeypatch.setattr(send_event_reminder_emails, "delay", lambda: None)
    scheduling.forget()
    yield calls
    scheduling.forget()


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def lead_of_24_hours(settings: SettingsWrapper) -> None:
    settings.REMINDER_LEAD_HOURS = 24


def event(start: timedelta, end: timedelta | None, **fields: object) -> Event:
    return EventFactory.create(
        start_date=NOW + start, end_date=NOW + end if end is not None else None, **fields
    )


def move_dates(e: Event, start: timedelta, end: timedelta | None) -> None:
    """An edit of the event's dates, as the API or the admin makes it, with its hook."""
    Event.objects.filter(pk=e.pk).update(
        start_date=NOW + start, end_date=NOW + end if end is not None else None
    )
    effects.reschedule()


class TestNextDue:
    def test_nothing_scheduled_when_nothing_is_ever_due(
        self, clock: time_machine.Coordinates, enqueued: list[Enqueued]
    ) -> None:
        event(-timedelta(hours=1), None, status=Status.ONGOING)
        event(timedelta(hours=1), timedelta(hours=2), status=Status.DRAFT)
        assert scheduling.next_due(NOW) is None
        assert scheduling.schedule_next() is None
        assert enqueued == []

    def test_next_start_of_a_confirmed_event(self, clock: time_machine.Coordinates) -> None:
        event(timedelta(seconds=40), timedelta(hours=1))
        event(timedelta(seconds=90), timedelta(hours=1))
        assert scheduling.next_due(NOW) == NOW + timedelta(seconds=40)

    def test_next_end_of_an_active_event_just_after_it(
        self, clock: time_machine.Coordinates
    ) -> None:
        event(-timedelta(hours=1), timedelta(seconds=30), status=Status.ONGOING)
        assert scheduling.next_due(NOW) == NOW + timedelta(seconds=30) + scheduling.END_MARGIN

    def test_next_reminder_window_of_an_event_with_participants(
        self, clock: time_machine.Coordinates
    ) -> None:
        lonely = event(timedelta(hours=25), None)
        assert scheduling.next_due(NOW) == lonely.start_date
        ParticipationFactory.create(event=event(timedelta(hours=26), None))
        assert scheduling.next_due(NOW) == NOW + timedelta(hours=2)

    def test_participant_without_a_reminder_in_an_open_window_is_due_now(
        self, clock: time_machine.Coordinates
    ) -> None:
        ParticipationFactory.create(event=event(timedelta(hours=3), None))
        assert scheduling.next_due(NOW) == NOW


class TestNextDueOfSomeEvents:
    """After a change, the moments of the changed events only: the pending wake-up covers the
    others (every change and every wake-up scheduled theirs)."""

    def test_only_the_given_events_moments_count(self, clock: time_machine.Coordinates) -> None:
        soon = event(timedelta(seconds=40), timedelta(hours=1))
        later = event(timedelta(seconds=90), timedelta(hours=1))
        participation.join(event(timedelta(hours=3), None).pk, UserFactory.create())  # due now
        assert scheduling.next_due(NOW) == NOW
        assert scheduling.next_due_of(NOW, {later.pk}) == later.start_date
        assert scheduling.next_due_of(NOW, {soon.pk, later.pk}) == soon.start_date

    def test_each_kind_of_moment_of_one_event(self, clock: time_machine.Coordinates) -> None:
        running = event(-timedelta(hours=1), timedelta(seconds=30), status=Status.ONGOING)
        assert running.end_date is not None
        assert scheduling.next_due_of(NOW, {running.pk}) == running.end_date + scheduling.END_MARGIN
        reminded = event(timedelta(hours=26), None)
        participation.join(reminded.pk, UserFactory.create())
        assert scheduling.next_due_of(NOW, {reminded.pk}) == NOW + timedelta(hours=2)
        due_now = event(timedelta(hours=3), None)
        participation.join(due_now.pk, UserFactory.create())
        overdue = scheduling.next_due_of(NOW, {due_now.pk})  # its reminder's time has passed
        assert overdue is not None
        assert overdue <= NOW
        draft = event(timedelta(hours=1), timedelta(hours=2), status=Status.DRAFT)
        assert scheduling.next_due_of(NOW, {draft.pk}) is None
        assert scheduling.next_due_of(NOW, {reminded.pk, due_now.pk, draft.pk}) == overdue

    def test_a_join_brings_the_wake_up_forward_to_its_events_reminder(
        self,
        clock: time_machine.Coordinates,
        enqueued: list[Enqueued],
        django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    ) -> None:
        event(timedelta(hours=40), None)
        scheduling.schedule_next()
        assert [e.wake_at for e in enqueued] == [NOW + scheduling.MAX_DELAY]
        joined = event(timedelta(hours=3), None)
        with django_capture_on_commit_callbacks(execute=True):
            participation.join(joined.pk, UserFactory.create())
        assert enqueued[-1].wake_at == NOW + scheduling.DUE_NOW_DELAY


class TestSchedule:
    def test_enqueues_at_the_due_moment(
        self, clock: time_machine.Coordinates, enqueued: list[Enqueued]
    ) -> None:
        event(timedelta(seconds=40), timedelta(hours=1))
        assert scheduling.schedule_next() == NOW + timedelta(seconds=40)
        assert enqueued == [Enqueued(NOW + timedelta(seconds=40), 40.0)]

    def test_a_burst_of_changes_enqueues_one_wake_up(
        self, clock: time_machine.Coordinates, enqueued: list[Enqueued]
    ) -> None:
        event(timedelta(seconds=40), timedelta(hours=1))
        for _ in range(200):
            effects.reschedule()
        assert len(enqueued) == 1

    def test_later_moments_wait_behind_the_pending_wake_up(
        self, clock: time_machine.Coordinates, enqueued: list[Enqueued]
    ) -> None:
        first = event(timedelta(seconds=40), timedelta(hours=1))
        scheduling.schedule_next()
        event(timedelta(seconds=50), timedelta(hours=1))
        Event.objects.filter(pk=first.pk).update(status=Status.CANCELLED)
        assert scheduling.schedule_next() is None
        assert len(enqueued) == 1

    def test_an_earlier_moment_enqueues_an_earlier_wake_up(
        self, clock: time_machine.Coordinates, enqueued: list[Enqueued]
    ) -> None:
        event(timedelta(seconds=40), timedelta(hours=1))
        scheduling.schedule_next()
        event(timedelta(seconds=10), timedelta(hours=1))
        scheduling.schedule_next()
        assert [e.countdown for e in enqueued] == [40.0, 10.0]

    def test_far_moments_are_cut_into_waits_below_the_visibility_timeout(
        self, clock: time_machine.Coordinates, enqueued: list[Enqueued], settings: SettingsWrapper
    ) -> None:
        event(timedelta(days=3), timedelta(days=3, hours=1))
        scheduling.schedule_next()
        assert enqueued == [
            Enqueued(NOW + scheduling.MAX_DELAY, scheduling.MAX_DELAY.total_seconds())
        ]
        visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
        assert (
            scheduling.MAX_DELAY.total_seconds() + scheduling.GRACE.total_seconds()
            < visibility / 10
        )

    def test_something_already_due_wakes_shortly_not_in_a_tight_loop(
        self, clock: time_machine.Coordinates, enqueued: list[Enqueued]
    ) -> None:
        event(-timedelta(seconds=5), timedelta(hours=1))
        scheduling.schedule_next()
        assert enqueued == [Enqueued(NOW + scheduling.DUE_NOW_DELAY, 0.5)]

    def test_a_wake_up_presumed_lost_no_longer_blocks_the_next(
        self, clock: time_machine.Coordinates, enqueued: list[Enqueued]
    ) -> None:
        event(timedelta(seconds=40), timedelta(hours=1))
        scheduling.schedule_next()
        # Its message vanished (Redis restarted, worker lost it): nothing ran at +40 s.
        clock.move_to(NOW + timedelta(seconds=40) + scheduling.GRACE - timedelta(seconds=1))
        assert scheduling.schedule_next() is None
        clock.move_to(NOW + timedelta(seconds=40) + scheduling.GRACE + timedelta(seconds=1))
        assert scheduling.schedule_next() is not None
        assert len(enqueued) == 2

    def test_countdown_across_the_march_clock_change_is_in_real_seconds(
        self, clock: time_machine.Coordinates, enqueued: list[Enqueued]
    ) -> None:
        # 00:59 GMT to 02:00 BST on 29 March 2026 is one minute, not an hour and one minute.
        clock.move_to(datetime(2026, 3, 29, 0, 59, tzinfo=UTC))
        start = datetime(2026, 3, 29, 2, 0, tzinfo=LONDON)
        EventFactory.create(start_date=start, end_date=start + timedelta(hours=1))
        scheduling.schedule_next()
        assert [e.countdown for e in enqueued] == [60.0]

    def test_a_scheduling_failure_never_breaks_the_change_that_caused_it(
        self, clock: time_machine.Coordinates, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def redis_down() -> None:
            raise ConnectionError("redis is down")

        monkeypatch.setattr(scheduling, "_redis", redis_down)
        event(timedelta(seconds=40), timedelta(hours=1))
        effects.reschedule()  # logs, does not raise

    def test_a_broker_that_is_not_redis_still_gets_every_wake_up_without_de_duplication(
        self,
        clock: time_machine.Coordinates,
        enqueued: list[Enqueued],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        from celery import current_app
        from kombu import Connection

        monkeypatch.setattr(
            current_app, "connection_for_write", lambda **options: Connection("memory://")
        )
        monkeypatch.setattr(scheduling, "_broker_redis", scheduling._BrokerRedis())
        event(timedelta(seconds=40), timedelta(hours=1))
        assert scheduling._redis() is None
        scheduling.schedule_next()
        scheduling.schedule_next()
        assert [e.countdown for e in enqueued] == [40.0, 40.0]
        scheduling.release(scheduling._stamp(NOW))
        scheduling.forget()


class TestHooks:
    def test_confirming_an_event_schedules_its_start(
        self,
        clock: time_machine.Coordinates,
        enqueued: list[Enqueued],
        django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    ) -> None:
        draft = event(timedelta(seconds=30), timedelta(hours=1), status=Status.DRAFT)
        with django_capture_on_commit_callbacks(execute=True):
            lifecycle.confirm(draft.pk)
        assert [e.wake_at for e in enqueued] == [NOW + timedelta(seconds=30)]

    def test_joining_an_event_in_its_reminder_window_wakes_the_sender(
        self,
        clock: time_machine.Coordinates,
        enqueued: list[Enqueued],
        django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    ) -> None:
        soon = event(timedelta(hours=2), timedelta(hours=3))
        with django_capture_on_commit_callbacks(execute=True):
            participation.join(soon.pk, UserFactory.create())
        assert [e.wake_at for e in enqueued] == [NOW + scheduling.DUE_NOW_DELAY]


class TestWakeUpRun:
    def test_runs_the_due_sweeps_and_schedules_the_next_moment(
        self, clock: time_machine.Coordinates, enqueued: list[Enqueued]
    ) -> None:
        starts = event(timedelta(seconds=10), timedelta(seconds=20))
        scheduling.schedule_next()
        clock.move_to(NOW + timedelta(seconds=10))
        changes = tasks.wake(scheduling._stamp(enqueued[0].wake_at))
        assert [(c.event_id, c.to_status) for c in changes] == [(starts.pk, Status.ONGOING)]
        assert enqueued[-1].wake_at == NOW + timedelta(seconds=20) + scheduling.END_MARGIN
        clock.move_to(enqueued[-1].wake_at)
        assert [c.to_status for c in tasks.wake(scheduling._stamp(enqueued[-1].wake_at))] == [
            Status.COMPLETED
        ]

    def test_a_duplicated_wake_up_changes_nothing_twice(
        self, clock: time_machine.Coordinates, enqueued: list[Enqueued]
    ) -> None:
        ends = event(-timedelta(hours=1), timedelta(seconds=10), status=Status.ONGOING)
        scheduling.schedule_next()
        stamp = scheduling._stamp(enqueued[0].wake_at)
        clock.move_to(enqueued[0].wake_at)
        assert len(tasks.wake(stamp)) == 1
        assert tasks.wake(stamp) == []
        assert EventStatusChange.objects.filter(event=ends).count() == 1

    def test_an_early_wake_up_does_nothing_and_schedules_the_due_moment(
        self, clock: time_machine.Coordinates, enqueued: list[Enqueued]
    ) -> None:
        event(timedelta(minutes=12), timedelta(hours=1))
        scheduling.schedule_next()  # capped: wakes at +5 min, long before the start
        clock.move_to(enqueued[0].wake_at)
        assert tasks.wake(scheduling._stamp(enqueued[0].wake_at)) == []
        assert enqueued[-1].wake_at == NOW + 2 * scheduling.MAX_DELAY

    def test_dates_moved_earlier_after_scheduling_wake_up_earlier(
        self, clock: time_machine.Coordinates, enqueued: list[Enqueued]
    ) -> None:
        e = event(-timedelta(hours=1), timedelta(minutes=2), status=Status.ONGOING)
        scheduling.schedule_next()
        move_dates(e, -timedelta(hours=1), timedelta(seconds=15))
        assert enqueued[-1].wake_at == NOW + timedelta(seconds=15) + scheduling.END_MARGIN
        clock.move_to(enqueued[-1].wake_at)
        assert [c.event_id for c in tasks.wake(scheduling._stamp(enqueued[-1].wake_at))] == [e.pk]

    def test_dates_moved_later_after_scheduling_complete_at_the_new_end(
        self, clock: time_machine.Coordinates, enqueued: list[Enqueued]
    ) -> None:
        e = event(-timedelta(hours=1), timedelta(seconds=15), status=Status.ONGOING)
        scheduling.schedule_next()
        stale = enqueued[0].wake_at
        move_dates(e, -timedelta(hours=1), timedelta(minutes=2))
        assert len(enqueued) == 1  # the pending, now early, wake-up stays
        clock.move_to(stale)
        assert tasks.wake(scheduling._stamp(stale)) == []
        assert Event.objects.get(pk=e.pk).status == Status.ONGOING
        new_end = NOW + timedelta(minutes=2) + scheduling.END_MARGIN
        assert enqueued[-1].wake_at == new_end
        clock.move_to(new_end)
        assert [c.event_id for c in tasks.wake(scheduling._stamp(new_end))] == [e.pk]

    def test_end_date_cleared_after_scheduling_never_completes(
        self, clock: time_machine.Coordinates, enqueued: list[Enqueued]
    ) -> None:
        e = event(-timedelta(hours=1), timedelta(seconds=15), status=Status.ONGOING)
        scheduling.schedule_next()
        move_dates(e, -timedelta(hours=1), None)
        clock.move_to(enqueued[0].wake_at)
        assert tasks.wake(scheduling._stamp(enqueued[0].wake_at)) == []
        assert Event.objects.get(pk=e.pk).status == Status.ONGOING
        assert len(enqueued) == 1  # nothing left to wake up for

    def test_the_run_queues_the_reminder_emails_when_some_are_due(
        self,
        clock: time_machine.Coordinates,
        enqueued: list[Enqueued],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        queued: list[str] = []
        monkeypatch.setattr(send_event_reminder_emails, "delay", lambda: queued.append("send"))
        ParticipationFactory.create(event=event(timedelta(hours=3), None))
        tasks.wake(None)
        assert queued == ["send"]
        tasks.wake(None)
        assert queued == ["send", "send"]  # still unsent: queued again, sending is idempotent


@pytest.mark.parametrize(
    ("changes", "reschedules"),
    [({"end_date_shift": -1}, True), ({"end_date_shift": 1}, True), ({"title": "x"}, False)],
    ids=["end-earlier", "end-later", "title-only"],
)
def test_editing_an_events_dates_reschedules_the_wake_up_after_commit(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    changes: dict,
    reschedules: bool,
) -> None:
    from unittest import mock

    from apps.events import editing

    event = EventFactory.create()
    assert event.end_date is not None
    fields = (
        {"end_date": event.end_date + timedelta(hours=changes["end_date_shift"])}
        if "end_date_shift" in changes
        else changes
    )
    with (
        mock.patch("apps.events.scheduling.schedule_next") as schedule_next,
        django_capture_on_commit_callbacks(execute=True),
    ):
        editing.update_event(event.pk, **fields)
    assert schedule_next.called is reschedules


def test_clearing_the_end_date_reschedules_too(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    from unittest import mock

    from apps.events import editing

    event = EventFactory.create()
    with (
        mock.patch("apps.events.scheduling.schedule_next") as schedule_next,
        django_capture_on_commit_callbacks(execute=True),
    ):
        editing.update_event(event.pk, end_date=None)
    assert schedule_next.called
