"""Events typed as local times of five zones, through the API, move at those instants with a real
worker: a naive time read in the wrong zone (TIME_ZONE, Europe/London) would be hours off.

The DST changes themselves are crossed with time-machine in apps/events/tests/test_timezones.py;
a worker process cannot be time-travelled.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from rest_framework.test import APIClient

from apps.events import clock, scheduling, tasks
from apps.events.models import Event, EventStatusChange
from apps.events.tests.factories import UserFactory
from tests.support import processes
from tests.support.auth import token_for

logger = logging.getLogger(__name__)

Status = Event.EventStatus
ZONES = ["America/New_York", "Asia/Kolkata", "Australia/Sydney", "Pacific/Chatham", "Europe/London"]
BOUND_SECONDS = 10.0  # generous: the machine is shared


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_local_times_of_each_zone_start_and_end_at_their_instants_with_a_worker(
    worker_process: processes.ManagedProcess,
) -> None:
    assert tasks.wake_up.name == scheduling.WAKE_UP_TASK  # registered here: confirm enqueues it
    scheduling.forget()
    organizer = UserFactory.create()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(organizer)}")
    base = clock.now().replace(microsecond=0) + timedelta(seconds=8)
    ids = []
    for i, name in enumerate(ZONES):
        start = (base + timedelta(seconds=i)).astimezone(ZoneInfo(name)).replace(tzinfo=None)
        body = {
            "title": f"in {name}",
            "timezone": name,
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(seconds=3)).isoformat(),
        }
        created = api.post("/api/events/", body, format="json")
        assert created.status_code == 201, created.content
        ids.append(created.json()["id"])
        assert api.post(f"/api/events/{ids[-1]}/confirm/").status_code == 200

    processes.wait_for(
        lambda: Event.objects.filter(pk__in=ids, status=Status.COMPLETED).count() == len(ids),
        timeout=60,
        interval=0.25,
    )
    for i, pk in enumerate(ids):
        event = Event.objects.get(pk=pk)
        assert event.start_date == base + timedelta(seconds=i)
        assert event.end_date == event.start_date + timedelta(seconds=3)
        moves = dict(EventStatusChange.objects.filter(event=event).values_list("to_status", "at"))
        start_lag = (moves[Status.ONGOING] - event.start_date).total_seconds()
        end_lag = (moves[Status.COMPLETED] - event.end_date).total_seconds()
        logger.info(f"{event.timezone}: ONGOING +{start_lag:.3f}s, COMPLETED +{end_lag:.3f}s")
        assert 0 <= start_lag < BOUND_SECONDS, event.timezone
        assert 0 < end_lag < BOUND_SECONDS, event.timezone
