"""The periodic schedule of a test: the declared tasks, of which only some run, fast."""

from __future__ import annotations

from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask


def run_only(every: dict[str, int]) -> None:
    """Load the declared schedule, then run only the named tasks, each every N seconds."""
    call_command("setup_event_lifecycle_tasks")
    PeriodicTask.objects.exclude(task__in=every).update(enabled=False)
    for task, seconds in every.items():
        interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
        PeriodicTask.objects.filter(task=task).update(interval=interval)
