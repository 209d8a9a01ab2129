"""Beat down for a day, two beats by mistake, a message delivered twice, a wake-up lost."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_results.models import TaskResult
from time_machine import TimeMachineFixture

from apps.events import lifecycle
from apps.events.models import Delivery, Event
from apps.events.tests.factories import EventFactory
from apps.events.tests.test_reminders import bulk_participants
from tests.faults.conftest import send_task
from tests.faults.ledger import ledger, report
from tests.faults.test_worker_crash import create_due_events
from tests.support import processes
from tests.support.beat import run_only
from tests.support.mail import recipients

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]
Status = Event.EventStatus
SWEEP = "events.mark_ended_events_as_completed"
REMINDERS = "events.send_event_reminder_emails"


def runs_of(task: str) -> int:
    return TaskResult.objects.filter(task_name=task).count()


def test_beat_down_for_a_day_catches_up_with_one_sweep_not_a_burst(
    fault_env: dict[str, str],
) -> None:
    backlog = 500
    call_command("setup_event_lifecycle_tasks")
    PeriodicTask.objects.update(last_run_at=timezone.now() - timedelta(days=1))
    # Only the beat-sent sweeps may move events here: no wake-ups in this test.
    PeriodicTask.objects.exclude(task=SWEEP).update(enabled=False)

    worker = processes.worker(fault_env).start()
    beat = None
    try:
        # The backlog appears after the worker's own catch-up at start, so only beat can move it.
        worker.wait_for_output("ready.", 60)
        create_due_events(backlog)
        beat = processes.beat(fault_env).start()
        started = time.monotonic()
        processes.wait_for(lambda: ledger().completed == backlog, 60)
        caught_up = time.monotonic() - started
        time.sleep(10)  # a burst of queued-up runs would show here
    finally:
        if beat is not None:
            beat.stop()
        worker.stop()
    assert beat is not None
    sends = beat.output().count(f"Sending due task Mark Ended Events as Completed ({SWEEP})")
    book = ledger()
    report(
        "beat down for a day",
        backlog=backlog,
        completed=book.completed,
        duplicates=book.duplicates,
        sweeps_sent=sends,
        caught_up_s=f"{caught_up:.1f}",
    )
    assert sends == 1
    assert (book.completed, book.audit_rows, book.most_rows_for_one_event) == (backlog, backlog, 1)


def test_two_beats_by_mistake_transition_and_remind_each_once(
    fault_env: dict[str, str], tmp_path: Path
) -> None:
    env = dict(
        fault_env,
        EMAIL_URL=f"filemail:///{tmp_path}",
        EMAIL_BACKEND="tests.support.mail.SlowFileBackend",
    )
    run_only({SWEEP: 1, REMINDERS: 1})
    now = timezone.now()
    ending = [
        EventFactory.create(
            status=Status.ONGOING,
            start_date=now - timedelta(hours=1),
            end_date=now + timedelta(seconds=2 + i * 0.1),
        )
        for i in range(60)
    ]
    soon = EventFactory.create(
        start_date=now + timedelta(hours=2), end_date=now + timedelta(hours=3)
    )
    addresses = bulk_participants(soon, 200)

    workers = [processes.worker(env, "-c", "2", name=f"w{i}").start() for i in range(2)]
    beats = [processes.beat(env).start() for _ in range(2)]
    try:
        for w in workers:
            w.wait_for_output("ready.", 60)
        processes.wait_for(
            lambda: Event.objects.filter(
                pk__in=[e.pk for e in ending], status=Status.COMPLETED
            ).count()
            == len(ending),
            90,
        )
        processes.wait_for(
            lambda: Delivery.objects.filter(sent_at__isnull=False).count() == len(addresses), 90
        )
        time.sleep(3)
    finally:
        for p in (*beats, *workers):
            p.stop()
    sent = Counter(recipients(tmp_path))
    book = ledger()
    sweeps = sum(b.output().count(f"({SWEEP})") for b in beats)
    report(
        "two beats",
        events=len(ending),
        completed=book.completed,
        event_duplicates=book.duplicates,
        emails=sum(sent.values()),
        participants=len(addresses),
        email_duplicates=sum(n - 1 for n in sent.values()),
        sweeps_sent_by_beats=sweeps,
    )
    assert (book.completed, book.most_rows_for_one_event) == (len(ending), 1)
    assert sum(sent.values()) == len(addresses)
    assert set(sent) == set(addresses)
    assert max(sent.values()) == 1


@pytest.mark.parametrize("concurrency", ["1", "2"])
def test_the_same_message_delivered_twice_changes_nothing_the_second_time(
    fault_env: dict[str, str], concurrency: str
) -> None:
    # With one pool process the deliveries run one after the other: the second finds nothing.
    # With two they may overlap, and SKIP LOCKED splits the events between them (e.g. 1 + 299):
    # either way every event is completed once, with one audit row.
    due = 300
    worker = processes.worker(fault_env, "-c", concurrency).start()
    try:
        worker.wait_for_output("ready.", 60)
        create_due_events(due)  # after the worker's catch-up at start: only the messages move them
        task_id = send_task(fault_env, SWEEP)
        send_task(fault_env, SWEEP, task_id=task_id)
        processes.wait_for(lambda: worker.output().count(f"{SWEEP}[{task_id}] succeeded") == 2, 60)
    finally:
        worker.stop()
    counts = sorted(
        int(line.rsplit(": ", 1)[1])
        for line in worker.output().splitlines()
        if f"{SWEEP}[{task_id}] succeeded" in line
    )
    book = ledger()
    report(
        "same message twice",
        concurrency=concurrency,
        events=due,
        run_counts=counts,
        duplicates=book.duplicates,
    )
    if concurrency == "1":
        assert counts == [0, due]
    else:
        assert len(counts) == 2
        assert sum(counts) == due
    assert (book.completed, book.audit_rows, book.most_rows_for_one_event) == (due, due, 1)


def test_a_lost_wake_up_is_caught_by_the_periodic_safety_sweep(fault_env: dict[str, str]) -> None:
    # The wake-up for this event goes to the test process's broker, which no worker here reads:
    # for the processes under test it is lost. Only their periodic sweep can complete it.
    interval = 5
    run_only({SWEEP: interval})
    worker = processes.worker(fault_env).start()
    beat = processes.beat(fault_env).start()
    try:
        worker.wait_for_output("ready.", 60)
        # After the worker's catch-up at start, which would schedule the wake-up itself.
        event = EventFactory.create(
            status=Status.ONGOING,
            start_date=timezone.now() - timedelta(hours=1),
            end_date=timezone.now() + timedelta(seconds=1),
        )
        processes.wait_for(
            lambda: Event.objects.filter(pk=event.pk, status=Status.COMPLETED).exists(),
            interval + 30,
        )
    finally:
        beat.stop()
        worker.stop()
    event.refresh_from_db()
    assert event.completed_at is not None
    assert event.end_date is not None
    lag = (event.completed_at - event.end_date).total_seconds()
    report("lost wake-up", interval_s=interval, lag_after_end_s=f"{lag:.1f}")
    assert ledger().most_rows_for_one_event == 1
    assert f"Sending due task Mark Ended Events as Completed ({SWEEP})" in beat.output()


def test_events_in_the_dst_hours_transition_once_at_the_right_instant(
    time_machine: TimeMachineFixture,
) -> None:
    """A sweep every minute through both 2026 changes; events end every 7 minutes around them."""
    from datetime import UTC, datetime

    for change in (
        datetime(2026, 3, 29, 0, 0, tzinfo=UTC),
        datetime(2026, 10, 24, 23, 30, tzinfo=UTC),
    ):
        ends = [change + timedelta(minutes=7 * i + 3) for i in range(30)]
        events = [
            EventFactory.create(
                status=Status.ONGOING, start_date=end - timedelta(hours=2), end_date=end
            )
            for end in ends
        ]
        for minute in range(0, 7 * 30 + 10):
            time_machine.move_to(change + timedelta(minutes=minute), tick=False)
            lifecycle.complete_ended()
        for event in events:
            event.refresh_from_db()
            assert event.status == Status.COMPLETED
            assert event.end_date is not None
            assert event.completed_at is not None
            # Completed by the first sweep after the end, in real (UTC) time.
            assert timedelta(0) < event.completed_at - event.end_date <= timedelta(minutes=1)
    book = ledger()
    report("DST changes, sweep every minute", events=60, duplicates=book.duplicates)
    assert (book.completed, book.most_rows_for_one_event) == (60, 1)
