"""A worker that starts after downtime sweeps what fell due at once, without beat."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.events import scheduling
from apps.events.models import Event, EventStatusChange
from apps.events.tests.factories import EventFactory
from tests.support import processes

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
Status = Event.EventStatus


def test_a_starting_worker_moves_overdue_events_before_it_says_ready_and_schedules_the_next(
    purged_broker: None,
) -> None:
    # Down for an hour: nothing beat-sent or pending, the events' wake-ups were lost with it.
    scheduling.forget()
    now = timezone.now()
    ended = EventFactory.create_batch(
        3,
        status=Status.ONGOING,
        start_date=now - timedelta(hours=2),
        end_date=now - timedelta(hours=1),
    )
    started = EventFactory.create_batch(
        2,
        status=Status.CONFIRMED,
        start_date=now - timedelta(minutes=30),
        end_date=now + timedelta(hours=1),
    )
    ending_soon = EventFactory.create(
        status=Status.ONGOING,
        start_date=now - timedelta(hours=1),
        end_date=now + timedelta(seconds=8),
    )

    worker = processes.worker(processes.child_env(), "-c", "1").start()
    try:
        worker.wait_for_output("ready.", timeout=60)
        # Swept before "ready.": no periodic sweep, no message was needed.
        assert {e.status for e in Event.objects.filter(pk__in=[e.pk for e in ended])} == {
            Status.COMPLETED
        }
        assert {e.status for e in Event.objects.filter(pk__in=[e.pk for e in started])} == {
            Status.ONGOING
        }
        assert "catch-up at start: count=5" in worker.output()
        # And the next due moment has its wake-up: the event ending after the start completes.
        processes.wait_for(
            lambda: Event.objects.filter(pk=ending_soon.pk, status=Status.COMPLETED).exists(), 60
        )
        worker.wait_for_output("task=events.wake_up", timeout=30)
    finally:
        worker.stop()
    assert EventStatusChange.objects.filter(event=ending_soon).count() == 1
