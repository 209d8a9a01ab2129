"""End to end with the seed's real processes: `celery -A core worker` and `celery -A core beat`."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_results.models import TaskResult

from apps.events.models import Event, EventStatusChange
from apps.events.tasks import mark_ended_events_as_completed
from apps.events.tests.factories import EventFactory
from tests.support import processes
from tests.support.beat import run_only

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
Status = Event.EventStatus
TASK = "events.mark_ended_events_as_completed"


def test_delay_runs_on_the_worker_and_stores_the_result_in_the_database(
    worker_process: processes.ManagedProcess,
) -> None:
    past = timezone.now() - timedelta(minutes=5)
    EventFactory.create_batch(2, start_date=past - timedelta(hours=1), end_date=past)
    result = mark_ended_events_as_completed.delay()
    assert result.get(timeout=30) == 2
    stored = processes.wait_for(
        lambda: TaskResult.objects.filter(task_id=result.id, status="SUCCESS").first(), 10
    )
    assert stored.task_name == TASK
    assert stored.result == "2"


def test_beat_sends_the_sweep_and_the_worker_completes_a_due_event(
    worker_process: processes.ManagedProcess,
) -> None:
    # Only the seed's sweep, every second, so the completion can only come from it.
    run_only({TASK: 1})
    event = EventFactory.create(
        status=Status.ONGOING,
        start_date=timezone.now() - timedelta(hours=1),
        end_date=timezone.now() + timedelta(seconds=2),
    )

    beat = processes.beat(processes.child_env()).start()
    try:
        beat.wait_for_output("beat: Starting", timeout=60)
        processes.wait_for(
            lambda: Event.objects.filter(pk=event.pk, status=Status.COMPLETED).exists(), 60
        )
        processes.wait_for(
            lambda: TaskResult.objects.filter(task_name=TASK, status="SUCCESS").exists(), 15
        )
    finally:
        beat.stop()
    assert f"Sending due task Mark Ended Events as Completed ({TASK})" in beat.output()
    change = EventStatusChange.objects.get(event=event)
    assert (change.from_status, change.to_status, change.source) == (
        Status.ONGOING,
        Status.COMPLETED,
        "task",
    )


def test_inspect_registered_lists_the_tasks(worker_process: processes.ManagedProcess) -> None:
    completed = subprocess.run(
        processes.celery("inspect", "registered", "--timeout", "10"),
        env=processes.child_env(),
        cwd=processes.REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    for name in (
        TASK,
        "events.mark_started_events_as_ongoing",
        "events.archive_old_completed_events",
    ):
        assert name in completed.stdout
