"""Publishing status changes to the channel layer: shape, batching, cost, and failure (real Redis).

The end-to-end path through Daphne and a worker is in test_realtime_e2e.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from pytest_django.fixtures import SettingsWrapper

from apps.events import clock, lifecycle, realtime
from apps.events.lifecycle import Transition
from apps.events.models import Event, EventStatusChange
from apps.events.tests.factories import EventFactory, UserFactory
from tests.support import processes

logger = logging.getLogger(__name__)

Status = Event.EventStatus
AT = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def change(event_id: int, from_status: str = Status.ONGOING, to: str = Status.COMPLETED) -> Any:
    return Transition(event_id, from_status, to, AT)


def publish_and_receive(
    groups: Sequence[str], publish: Any, expected: int, timeout: float = 5
) -> list[dict[str, Any]]:
    """Join a fresh channel to `groups`, run `publish()` in a thread, return the client payloads
    of what it received."""
    layer = get_channel_layer()

    def publish_then_close() -> None:
        try:
            publish()
        finally:
            connection.close()  # the thread's own database connection

    async def run() -> list[dict[str, Any]]:
        channel = await layer.new_channel()
        for group in groups:
            await layer.group_add(group, channel)
        await sync_to_async(publish_then_close, thread_sensitive=False)()
        received = []
        for _ in range(expected):
            message = await asyncio.wait_for(layer.receive(channel), timeout)
            # What a socket would be sent: the publisher's JSON text, for the handler `type`.
            payload = json.loads(message["text"])
            assert payload["type"] == message["type"]
            received.append(payload)
        with pytest.raises(TimeoutError):  # and nothing more
            await asyncio.wait_for(layer.receive(channel), 0.3)
        return received

    return asyncio.run(run())


# --- message shape -------------------------------------------------------------------------------


def test_status_message_has_the_contract_shape() -> None:
    assert realtime.status_message(Transition(7, Status.DRAFT, Status.CONFIRMED, AT, 31)) == {
        "type": "event.status",
        "event_id": 7,
        "status": "CONFIRMED",
        "previous_status": "DRAFT",
        "at": "2026-06-15T12:00:00+00:00",
        "change_id": 31,
    }
    assert tuple(realtime.status_message(change(1))) == realtime.MESSAGE_FIELDS


def test_one_public_change_is_a_single_message() -> None:
    assert realtime.public_messages([change(1)]) == [realtime.status_message(change(1))]


def test_many_public_changes_are_batched_in_chunks() -> None:
    changes = [change(i) for i in range(1, 1201)]
    batches = realtime.public_messages(changes)
    assert [b["type"] for b in batches] == ["event.status.batch"] * 3
    assert [len(b["changes"]) for b in batches] == [500, 500, 200]
    assert [c["event_id"] for b in batches for c in b["changes"]] == list(range(1, 1201))


def test_changes_of_events_that_were_never_public_stay_off_the_public_stream() -> None:
    # Like selectors.can_see: a DRAFT, and a DRAFT cancelled before it was ever confirmed.
    assert realtime.is_public(change(1, Status.DRAFT, Status.CONFIRMED))
    assert realtime.is_public(change(1, Status.CONFIRMED, Status.CANCELLED))
    assert not realtime.is_public(change(1, Status.DRAFT, Status.CANCELLED))
    assert not realtime.is_public(change(1, Status.DRAFT, Status.DRAFT))
    assert realtime.public_messages([change(1, Status.DRAFT, Status.DRAFT)]) == []


# --- publishing through real Redis -------------------------------------------------------------


def test_public_stream_gets_batches_and_only_watched_events_get_their_own(
    redis_db0: redis.Redis,
) -> None:
    changes = [change(i) for i in range(1, 1201)]
    received = publish_and_receive(
        [realtime.PUBLIC_GROUP, realtime.event_group(42)],
        lambda: realtime.publish_transitions(changes),
        expected=4,
    )
    singles = [m for m in received if m["type"] == "event.status"]
    batches = [m for m in received if m["type"] == "event.status.batch"]
    assert [{k: m[k] for k in realtime.MESSAGE_FIELDS} for m in singles] == [
        realtime.status_message(change(42))
    ]
    assert sorted(c["event_id"] for b in batches for c in b["changes"]) == list(range(1, 1201))


def test_a_publish_sends_nothing_to_unwatched_event_groups(
    redis_db0: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    layer = get_channel_layer()
    sent: list[str] = []
    original = layer.group_send

    async def counting_group_send(group: str, message: dict[str, Any]) -> None:
        sent.append(group)
        await original(group, message)

    monkeypatch.setattr(layer, "group_send", counting_group_send)
    publish_and_receive(
        [realtime.event_group(3)],
        lambda: realtime.publish_transitions([change(i) for i in range(1, 1001)]),
        expected=1,
    )
    assert sorted(sent) == sorted([realtime.PUBLIC_GROUP] * 2 + [realtime.event_group(3)])


def test_a_sweep_of_100000_reaches_a_socket_whole(redis_db0: redis.Redis) -> None:
    """200 batches for one process before it reads any: channels_redis's default capacity (100
    messages waiting for a process) dropped the rest, which no client would ever have known.
    In order, too: a client resumes from the highest change id it saw."""
    changes = [change(i) for i in range(1, 100_001)]
    received = publish_and_receive(
        [realtime.PUBLIC_GROUP], lambda: realtime.publish_transitions(changes), expected=200
    )
    assert [c["event_id"] for b in received for c in b["changes"]] == list(range(1, 100_001))


def test_a_sweep_reaches_every_watched_event_of_a_process(redis_db0: redis.Redis) -> None:
    """1,000 watched events that change at once are 1,000 messages for the one process."""
    watched = range(1, 1001)
    received = publish_and_receive(
        [realtime.event_group(i) for i in watched],
        lambda: realtime.publish_transitions([change(i) for i in range(1, 2001)]),
        expected=1000,
    )
    singles = sorted(m["event_id"] for m in received if m["type"] == "event.status")
    assert singles == list(watched)


def test_publishes_reuse_the_same_redis_connections(redis_db0: redis.Redis) -> None:
    def connections_opened() -> int:
        return int(redis_db0.info("stats")["total_connections_received"])

    realtime.publish_transitions([change(i) for i in range(1, 101)])  # warm up the pool
    before = connections_opened()
    for i in range(20):
        realtime.publish_transitions([change(i + 1)])
    assert connections_opened() - before == 0


def test_a_publish_after_redis_dropped_the_connections_reconnects(redis_db0: redis.Redis) -> None:
    realtime.publish_transitions([change(1)])
    redis_db0.client_kill_filter(_type="normal", skipme=True)  # as a Redis restart would
    received = publish_and_receive(
        [realtime.PUBLIC_GROUP], lambda: realtime.publish_transitions([change(2)]), expected=1
    )
    assert received[0]["event_id"] == 2


def test_a_forked_process_publishes_on_its_own_loop(redis_db0: redis.Redis) -> None:
    realtime.publish_transitions([change(1)])  # this process now has a running push loop
    pid = os.fork()
    if pid == 0:  # the child, like a Celery pool process forked after the parent published
        code = 1
        try:
            realtime.publish_transitions([change(2)])
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


# --- a failed push never undoes the change ---------------------------------------------------


def unreachable_layer(address: str) -> dict[str, Any]:
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [address]},
        }
    }


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers: a hung Redis."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield int(server.getsockname()[1])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("redis_state", ["closed port", "never answers"])
def test_transition_commits_when_the_channel_layer_is_unreachable(
    settings: SettingsWrapper,
    caplog: pytest.LogCaptureFixture,
    silent_server: int,
    redis_state: str,
) -> None:
    port = processes.free_port() if redis_state == "closed port" else silent_server
    settings.CHANNEL_LAYERS = unreachable_layer(f"redis://127.0.0.1:{port}/0")
    event = EventFactory.create(status=Status.DRAFT)

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="apps.events.effects"):
        lifecycle.confirm(event.pk, actor=event.organizer)
    elapsed = time.monotonic() - started

    assert Event.objects.get(pk=event.pk).status == Status.CONFIRMED
    assert EventStatusChange.objects.filter(event=event, to_status=Status.CONFIRMED).count() == 1
    assert "live push of 1 status changes failed" in caplog.text
    assert elapsed < realtime.PUSH_TIMEOUT + 2


@pytest.mark.django_db(transaction=True)
def test_sweep_of_10000_spends_little_time_publishing(
    redis_db0: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    organizer = UserFactory.create()
    now = clock.now()
    Event.objects.bulk_create(
        Event(
            title=f"e{i}",
            organizer=organizer,
            start_date=now - timedelta(hours=2),
            end_date=now - timedelta(minutes=1),
            status=Status.ONGOING,
        )
        for i in range(10_000)
    )
    watched = Event.objects.order_by("id").values_list("id", flat=True)[1234]
    timings: list[float] = []
    publish = realtime.publish_transitions

    def timed_publish(changes: Sequence[Transition]) -> None:
        started = time.perf_counter()
        publish(changes)
        timings.append(time.perf_counter() - started)

    monkeypatch.setattr(realtime, "publish_transitions", timed_publish)
    received = publish_and_receive(
        [realtime.PUBLIC_GROUP, realtime.event_group(watched)],
        lambda: lifecycle.complete_ended(),
        expected=21,
        timeout=10,
    )

    assert len(timings) == 1
    logger.info(f"sweep of 10,000 transitions: publish_transitions took {timings[0] * 1000:.1f} ms")
    batches = [m for m in received if m["type"] == "event.status.batch"]
    assert len(batches) == 20
    assert len({c["event_id"] for b in batches for c in b["changes"]}) == 10_000
    assert [m["event_id"] for m in received if m["type"] == "event.status"] == [watched]
    assert timings[0] < realtime.push_timeout(10_000)
