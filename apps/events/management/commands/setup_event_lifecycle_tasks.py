"""Load the periodic tasks declared in `apps.events.periodic` into django-celery-beat."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from apps.events.periodic import PERIODIC_TASKS, PeriodicSpec


def _schedule_fields(spec: PeriodicSpec) -> dict[str, Any]:
    if spec.every_seconds is not None:
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=spec.every_seconds, period=IntervalSchedule.SECONDS
        )
        return {"interval": interval, "crontab": None}
    crontab, _ = CrontabSchedule.objects.get_or_create(
        timezone=settings.CELERY_TIMEZONE,
        **{"day_of_week": "*", "day_of_month": "*", "month_of_year": "*", **(spec.crontab or {})},
    )
    return {"interval": None, "crontab": crontab}


def _rename_former(spec: PeriodicSpec) -> list[tuple[str, str]]:
    """Give a row made under an earlier name the current one, keeping its enabled choice; when
    beat already made a row of that name, the old row's choice moves onto it."""
    changes = []
    for old in PeriodicTask.objects.filter(name__in=spec.formerly):
        former = old.name
        current = PeriodicTask.objects.filter(name=spec.name).first()
        if current is None:
            old.name = spec.name
            old.save()
        else:
            if current.enabled != old.enabled:
                current.enabled = old.enabled
                current.save()
            old.delete()
        changes.append((spec.name, f"renamed from {former!r}"))
    return changes


def sync_periodic_tasks() -> list[tuple[str, str]]:
    """Create or update each declared task; return (name, "created"|"updated") for each change.

    An operator's enabled/disabled choice is kept: only new tasks get `enabled=True`.
    """
    changes: list[tuple[str, str]] = []
    with transaction.atomic():
        for spec in PERIODIC_TASKS:
            changes.extend(_rename_former(spec))
            wanted = {"task": spec.task, "description": spec.description, **_schedule_fields(spec)}
            existing = PeriodicTask.objects.filter(name=spec.name).first()
            if existing is None:
                PeriodicTask.objects.create(name=spec.name, enabled=True, **wanted)
                changes.append((spec.name, "created"))
                continue
            differs = {k: v for k, v in wanted.items() if getattr(existing, k) != v}
            if differs:
                for field, value in differs.items():
                    setattr(existing, field, value)
                existing.save()
                changes.append((spec.name, "updated: " + ", ".join(sorted(differs))))
    return changes


class Command(BaseCommand):
    help = "Create or update the event-lifecycle periodic tasks (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        changes = sync_periodic_tasks()
        for name, what in changes:
            self.stdout.write(f"{what}: {name}")
        unchanged = len(PERIODIC_TASKS) - len(changes)
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(changes)} periodic task(s) created or updated, "
                f"{unchanged} already up to date."
            )
        )
