"""Thin Celery tasks around the domain: call it, log one line, return the count (CONTRACT §3)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.db import InterfaceError, OperationalError, connections
from kombu.exceptions import OperationalError as BrokerError

from apps.events import clock, effects, lifecycle, reminders, retention, scheduling
from apps.events.transitions import Transition

logger = logging.getLogger(__name__)

# Transient database or broker trouble is worth retrying (the sweeps are idempotent, a retry is
# safe); a programming or integrity error is not, it would fail the same way three more times.
RETRY_ON = (OperationalError, InterfaceError, BrokerError, ConnectionError, TimeoutError)
RETRY_OPTIONS: dict[str, Any] = {
    "autoretry_for": RETRY_ON,
    "max_retries": 3,
    # 5 s, 10 s, 20 s: the three retries span 35 s, enough to outlast a database failover.
    "retry_backoff": 5,
    "retry_backoff_max": 60,
    "retry_jitter": False,
}


def run_logged(task: Any, work: Callable[[], Sequence[object] | int]) -> int:
    """Run `work`, log one line with task name, id, count and duration, return the count."""
    started = time.monotonic()
    result = work()
    count = result if isinstance(result, int) else len(result)
    duration_ms = round((time.monotonic() - started) * 1000, 1)
    logger.info(
        "task=%s id=%s count=%d duration_ms=%.1f",
        task.name,
        task.request.id,
        count,
        duration_ms,
        extra={
            "task": task.name,
            "task_id": task.request.id,
            "count": count,
            "duration_ms": duration_ms,
        },
    )
    return count


@shared_task(bind=True, name="events.mark_ended_events_as_completed", **RETRY_OPTIONS)
def mark_ended_events_as_completed(self: Any) -> int:
    """CONFIRMED/ONGOING events whose end_date has passed → COMPLETED; returns how many."""
    count = run_logged(self, lifecycle.complete_ended)
    effects.reschedule()
    return count


@shared_task(bind=True, name="events.mark_started_events_as_ongoing", **RETRY_OPTIONS)
def mark_started_events_as_ongoing(self: Any) -> int:
    """CONFIRMED events that have started → ONGOING (or COMPLETED if already over)."""
    count = run_logged(self, lifecycle.start_started)
    effects.reschedule()
    return count


@shared_task(bind=True, name="events.archive_old_completed_events", **RETRY_OPTIONS)
def archive_old_completed_events(self: Any) -> int:
    """COMPLETED events older than ARCHIVE_AFTER_DAYS → ARCHIVED; returns how many."""
    return run_logged(self, lifecycle.archive_completed)


@shared_task(bind=True, name="events.apply_data_retention", **RETRY_OPTIONS)
def apply_data_retention(self: Any) -> int:
    """Personal data of events archived RETENTION_DAYS ago → deleted; returns the rows removed."""
    return run_logged(self, lambda: run.rows if (run := retention.apply()) else 0)


@shared_task(bind=True, name="events.send_event_reminder_emails", **RETRY_OPTIONS)
def send_event_reminder_emails(self: Any) -> int:
    """One reminder per participant, REMINDER_LEAD_HOURS before the start; returns emails sent."""
    count = run_logged(self, reminders.send_due)
    effects.reschedule()
    return count


@shared_task(bind=True, name=scheduling.WAKE_UP_TASK, **RETRY_OPTIONS)
def wake_up(self: Any, wake_at: str | None = None) -> int:
    """Run the sweeps due at `wake_at` and schedule the next wake-up (see `scheduling`)."""
    return run_logged(self, lambda: wake(wake_at))


def wake(wake_at: str | None = None) -> list[Transition]:
    """The wake-up's work: the due sweeps, the due reminders queued, the next wake-up scheduled."""
    scheduling.release(wake_at)
    changes = lifecycle.start_started()
    at = clock.now()
    reminders.create_due(at)
    if reminders.pending(at).exists():
        send_event_reminder_emails.delay()
    scheduling.schedule_next()
    return changes


def catch_up() -> list[Transition]:
    """At a worker's start: what fell due while no worker ran, swept now, not at the next
    periodic sweep. The pending wake-up is forgotten first: the worker that held it may be dead."""
    scheduling.forget()
    return wake()


@worker_ready.connect(weak=False)
def catch_up_when_ready(**kwargs: Any) -> None:
    """Runs before the worker logs "ready.": a worker that says ready has caught up."""
    started = time.monotonic()
    try:
        count = len(catch_up())
    finally:
        # The main process runs no tasks: it keeps no connection open.
        connections.close_all()
    logger.info(
        "catch-up at start: count=%d duration_ms=%.1f",
        count,
        (time.monotonic() - started) * 1000,
        extra={"count": count},
    )
