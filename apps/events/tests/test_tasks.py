"""The Celery tasks called directly, as the seed's shell examples do (no broker involved)."""

from __future__ import annotations

import logging
from datetime import timedelta
from unittest import mock

import pytest
from django.db import OperationalError
from django.utils import timezone

from apps.events import lifecycle
from apps.events.models import Event
from apps.events.tasks import (
    archive_old_completed_events,
    mark_ended_events_as_completed,
    mark_started_events_as_ongoing,
)
from apps.events.tests.factories import EventFactory

pytestmark = pytest.mark.django_db


def test_calling_the_task_returns_how_many_events_it_completed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    past = timezone.now() - timedelta(hours=1)
    EventFactory.create_batch(3, start_date=past - timedelta(hours=1), end_date=past)
    with caplog.at_level(logging.INFO, logger="apps.events.tasks"):
        assert mark_ended_events_as_completed() == 3
        assert mark_ended_events_as_completed() == 0
    lines = [r.getMessage() for r in caplog.records if r.name == "apps.events.tasks"]
    assert len(lines) == 2
    assert lines[0].startswith("task=events.mark_ended_events_as_completed id=")
    assert " count=3 duration_ms=" in lines[0]


def test_every_task_returns_an_int() -> None:
    assert mark_started_events_as_ongoing() == 0
    assert archive_old_completed_events() == 0


def test_task_names_are_the_contracts() -> None:
    assert mark_ended_events_as_completed.name == "events.mark_ended_events_as_completed"
    assert mark_started_events_as_ongoing.name == "events.mark_started_events_as_ongoing"
    assert archive_old_completed_events.name == "events.archive_old_completed_events"


def test_database_errors_are_retried_three_times_with_exponential_backoff() -> None:
    task = mark_ended_events_as_completed
    assert task.max_retries == 3
    assert task.retry_backoff
    assert OperationalError in task.autoretry_for
    with (
        mock.patch.object(lifecycle, "complete_ended", side_effect=OperationalError("db down")),
        mock.patch.object(task, "retry", side_effect=RuntimeError("retry requested")) as retry,
        pytest.raises(RuntimeError, match="retry requested"),
    ):
        task.apply(throw=True).get()
    assert retry.call_count == 1
    assert Event.objects.count() == 0
