"""Thin Celery tasks around `lifecycle`: call it, log one line, return the count (CONTRACT §3)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from celery import shared_task
from django.db import DatabaseError, InterfaceError
from kombu.exceptions import OperationalError as BrokerError

from apps.events import lifecycle

logger = logging.getLogger(__name__)

# Database or broker trouble is worth retrying; the sweeps are idempotent, so a retry is safe.
RETRY_ON = (DatabaseError, InterfaceError, BrokerError, ConnectionError)
RETRY_OPTIONS: dict[str, Any] = {
    "autoretry_for": RETRY_ON,
    "max_retries": 3,
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
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
    return run_logged(self, lifecycle.complete_ended)


@shared_task(bind=True, name="events.mark_started_events_as_ongoing", **RETRY_OPTIONS)
def mark_started_events_as_ongoing(self: Any) -> int:
    """CONFIRMED events that have started → ONGOING (or COMPLETED if already over)."""
    return run_logged(self, lifecycle.start_started)


@shared_task(bind=True, name="events.archive_old_completed_events", **RETRY_OPTIONS)
def archive_old_completed_events(self: Any) -> int:
    """COMPLETED events older than ARCHIVE_AFTER_DAYS → ARCHIVED; returns how many."""
    return run_logged(self, lifecycle.archive_completed)
