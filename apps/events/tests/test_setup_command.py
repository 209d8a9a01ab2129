"""`manage.py setup_event_lifecycle_tasks`: the declared schedule, loaded idempotently."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from apps.events.periodic import PERIODIC_TASKS
from core.celery import app
from tests.support import processes

pytestmark = pytest.mark.django_db


def run() -> str:
    out = StringIO()
    call_command("setup_event_lifecycle_tasks", stdout=out)
    return out.getvalue()


def test_creates_the_seeds_periodic_task_every_five_minutes() -> None:
    output = run()
    task = PeriodicTask.objects.get(name="Mark Ended Events as Completed")
    assert task.task == "events.mark_ended_events_as_completed"
    assert (task.interval.every, task.interval.period) == (300, "seconds")
    assert task.enabled
    assert "created: Mark Ended Events as Completed" in output


def test_every_declared_task_exists_and_is_registered_with_celery() -> None:
    run()
    assert set(PeriodicTask.objects.values_list("name", flat=True)) == {
        spec.name for spec in PERIODIC_TASKS
    }
    app.loader.import_default_modules()
    for spec in PERIODIC_TASKS:
        assert spec.task in app.tasks, spec.task


def test_running_again_creates_nothing_and_says_so() -> None:
    run()
    ids = sorted(PeriodicTask.objects.values_list("id", flat=True))
    output = run()
    assert sorted(PeriodicTask.objects.values_list("id", flat=True)) == ids
    assert (
        f"0 periodic task(s) created or updated, {len(PERIODIC_TASKS)} already up to date" in output
    )


def test_keeps_an_operators_disabled_choice_but_restores_the_schedule() -> None:
    run()
    task = PeriodicTask.objects.get(name="Mark Ended Events as Completed")
    task.enabled = False
    task.task = "events.something_else"
    task.save()
    output = run()
    task.refresh_from_db()
    assert task.enabled is False
    assert task.task == "events.mark_ended_events_as_completed"
    assert "updated: task: Mark Ended Events as Completed" in output


def test_renames_the_old_clean_up_task_and_keeps_its_choice() -> None:
    crontab = CrontabSchedule.objects.create(minute="0", hour="4")
    PeriodicTask.objects.create(
        name="Clean Up Old Task Results",
        task="celery.backend_cleanup",
        crontab=crontab,
        enabled=False,
    )
    output = run()
    assert "renamed from 'Clean Up Old Task Results': celery.backend_cleanup" in output
    cleanup = PeriodicTask.objects.get(task="celery.backend_cleanup")
    assert (cleanup.name, cleanup.enabled) == ("celery.backend_cleanup", False)


@pytest.mark.e2e
def test_one_result_clean_up_task_after_beat_has_started(beat_process: Any) -> None:
    """Beat adds `celery.backend_cleanup` by itself; the declared list owns that name."""
    run()
    processes.wait_for(
        lambda: PeriodicTask.objects.filter(
            name="celery.backend_cleanup", expire_seconds=12 * 3600
        ).exists(),
        timeout=60,
    )
    assert PeriodicTask.objects.filter(task="celery.backend_cleanup").count() == 1
    # The seed's check lists exactly the declared tasks.
    assert PeriodicTask.objects.filter(enabled=True).count() == len(PERIODIC_TASKS) == 7
    assert f"0 periodic task(s) created or updated, {len(PERIODIC_TASKS)}" in run()
