"""Is beat ticking? Beat's process records each tick; /healthz, the admin and /metrics read it.

A tick is beat starting (`beat_init`) or beat publishing a due periodic task
(`after_task_publish` in the beat process). django-celery-beat's `PeriodicTask.last_run_at` is
not enough: the DatabaseScheduler writes it only when it syncs (every 3 minutes, `sync_every`),
which is longer than twice the one-minute sweep, so a live beat would look stale between syncs.

Beat is stale when it has not ticked within twice the shortest interval of the enabled periodic
tasks (CONTRACT §8). With nothing enabled on an interval there is nothing to be late for: ok.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError
from django_celery_beat.models import PeriodicTask

from apps.events import clock
from apps.events.models import SchedulerHeartbeat

logger = logging.getLogger(__name__)

BEAT = "beat"
OK = "ok"
STALE = "stale"
PERIOD_SECONDS = {"days": 86400, "hours": 3600, "minutes": 60, "seconds": 1, "microseconds": 1e-6}

_in_beat_process = False


@dataclass(frozen=True)
class SchedulerStatus:
    state: str
    last_tick: datetime | None
    stale_after: timedelta | None

    @property
    def age(self) -> timedelta | None:
        return None if self.last_tick is None else clock.now() - self.last_tick


def record_tick(at: datetime | None = None) -> None:
    """Upsert the heartbeat row. Never raises: beat must keep sending tasks whatever happens."""
    try:
        SchedulerHeartbeat.objects.bulk_create(
            [SchedulerHeartbeat(name=BEAT, at=at or clock.now())],
            update_conflicts=True,
            unique_fields=["name"],
            update_fields=["at"],
        )
    except DatabaseError:
        logger.warning("recording beat's heartbeat failed", exc_info=True)


def on_beat_init(**kwargs: Any) -> None:
    """`beat_init`: this process is beat; its start is a tick."""
    global _in_beat_process
    _in_beat_process = True
    record_tick()


def on_task_published(**kwargs: Any) -> None:
    """`after_task_publish`: in beat, a sent periodic task is a tick (elsewhere: nothing)."""
    if _in_beat_process:
        record_tick()


def shortest_interval() -> timedelta | None:
    """The shortest interval among the enabled periodic tasks (crontab ones are not counted)."""
    rows = PeriodicTask.objects.filter(enabled=True, interval__isnull=False).values_list(
        "interval__every", "interval__period"
    )
    seconds = [every * PERIOD_SECONDS[period] for every, period in rows]
    return timedelta(seconds=min(seconds)) if seconds else None


def last_tick() -> datetime | None:
    return SchedulerHeartbeat.objects.filter(name=BEAT).values_list("at", flat=True).first()


def scheduler_status(now: datetime | None = None) -> SchedulerStatus:
    interval = shortest_interval()
    tick = last_tick()
    if interval is None:
        return SchedulerStatus(OK, tick, None)
    stale_after = 2 * interval
    now = now or clock.now()
    state = OK if tick is not None and now - tick <= stale_after else STALE
    return SchedulerStatus(state, tick, stale_after)
