"""A socket through a real Daphne misses a sweep of 2,000 changes, reconnects with `?after=` and
receives each of them exactly once, in order, then the live ones (CONTRACT §5)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from websockets.sync.client import ClientConnection, connect
from websockets.sync.connection import Connection
from websockets.typing import Origin

from apps.events import lifecycle
from apps.events.models import Event, EventStatusChange
from apps.events.tests.factories import EventFactory, UserFactory
from tests.support import processes

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
Status = Event.EventStatus
MISSED = 2000


@pytest.fixture
def daphne_port(transactional_db: None) -> Iterator[int]:
    port = processes.free_port()
    proc = processes.daphne(processes.child_env(WS_RESUME_LIMIT="5000"), port).start()
    processes.wait_for(lambda: processes.port_open(port), timeout=60)
    yield port
    proc.stop()


def socket(port: int, path: str) -> ClientConnection:
    origin = Origin(f"http://127.0.0.1:{port}")
    return connect(f"ws://127.0.0.1:{port}{path}", origin=origin, open_timeout=10)


def changes_of(ws: Connection, count: int) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    while len(received) < count:
        message = json.loads(ws.recv(timeout=15))
        received.extend(
            message["changes"] if message["type"] == "event.status.batch" else [message]
        )
    return received


def test_a_reconnecting_socket_gets_the_missed_sweep_once_in_order_then_live(
    daphne_port: int,
) -> None:
    organizer = UserFactory.create()
    future = timezone.now() + timedelta(days=1)
    first = EventFactory.create(organizer=organizer, status=Status.DRAFT, start_date=future)
    with socket(daphne_port, "/ws/events/") as ws:
        lifecycle.confirm(first.pk)
        (seen,) = changes_of(ws, 1)
    end = timezone.now() - timedelta(minutes=1)
    Event.objects.bulk_create(
        Event(
            title=f"e{i}",
            organizer=organizer,
            start_date=end - timedelta(hours=1),
            end_date=end,
            status=Status.ONGOING,
        )
        for i in range(MISSED)
    )
    assert len(lifecycle.complete_ended()) == MISSED  # while nobody listens
    expected = list(
        EventStatusChange.objects.filter(id__gt=seen["change_id"])
        .order_by("id")
        .values_list("id", flat=True)
    )

    with socket(daphne_port, f"/ws/events/?after={seen['change_id']}") as ws:
        replayed = changes_of(ws, MISSED)
        lifecycle.cancel(first.pk)
        (live,) = changes_of(ws, 1)
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.5)  # nothing twice
    assert [c["change_id"] for c in replayed] == expected
    assert (live["event_id"], live["status"]) == (first.pk, "CANCELLED")
    assert live["change_id"] > expected[-1]
