"""Resuming the live stream (CONTRACT §5): `?after=<change_id>` replays what a socket missed, in
order, then the live messages, without a gap or a duplicate; too much missed → a reset. Through
the real ASGI stack and the real channel layer (Redis DB 0)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from channels.layers import channel_layers, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.utils import timezone
from pytest_django.fixtures import SettingsWrapper

from apps.events import lifecycle, realtime
from apps.events.models import Event, EventStatusChange
from apps.events.tests.factories import EventFactory, UserFactory
from apps.events.transitions import Transition
from core.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)
Status = Event.EventStatus
ORIGIN = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]


@pytest.fixture(autouse=True)
def fresh_channel_layer(redis_db0: redis.Redis) -> Iterator[None]:
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def ended_events(count: int) -> None:
    organizer = UserFactory.create()
    end = timezone.now() - timedelta(minutes=1)
    Event.objects.bulk_create(
        Event(
            title=f"e{i}",
            organizer=organizer,
            start_date=end - timedelta(hours=1),
            end_date=end,
            status=Status.ONGOING,
        )
        for i in range(count)
    )


def last_change_id() -> int:
    return EventStatusChange.objects.order_by("-id").values_list("id", flat=True)[0]


async def receive_changes(ws: WebsocketCommunicator, count: int) -> list[dict[str, Any]]:
    """`count` changes, unbatched, in the order they were sent."""
    changes: list[dict[str, Any]] = []
    while len(changes) < count:
        message = json.loads(await ws.receive_from(timeout=10))
        changes.extend(message["changes"] if message["type"] == "event.status.batch" else [message])
    return changes


async def live(group: str, *changes: Transition) -> None:
    """What `realtime` sends for these changes after they commit."""
    messages = (
        realtime.public_messages(changes)
        if group == realtime.PUBLIC_GROUP
        else [realtime.status_message(change) for change in changes]
    )
    for message in messages:
        await get_channel_layer().group_send(group, realtime.channel_message(message))


def test_a_socket_that_missed_a_sweep_of_2000_gets_each_change_once_in_order(
    settings: SettingsWrapper,
) -> None:
    settings.WS_RESUME_LIMIT = 5000
    seen = EventFactory.create(status=Status.DRAFT, start_date=timezone.now() + timedelta(days=1))
    lifecycle.confirm(seen.pk)
    after = last_change_id()  # the last change this client saw before it dropped
    ended_events(2000)
    swept = lifecycle.complete_ended()  # while the client is away
    assert len(swept) == 2000
    expected = list(
        EventStatusChange.objects.filter(id__gt=after).order_by("id").values_list("id", flat=True)
    )

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
        ws = WebsocketCommunicator(application, f"/ws/events/?after={after}", headers=ORIGIN)
        assert (await ws.connect())[0]
        replayed = await receive_changes(ws, 2000)
        # A publish that overlaps the replay (the sweep's own, arriving late), then a new change.
        overlap = [
            *swept[-3:],
            Transition(
                seen.pk, Status.CONFIRMED, Status.CANCELLED, timezone.now(), expected[-1] + 1
            ),
        ]
        await live(realtime.PUBLIC_GROUP, *overlap)
        fresh = await receive_changes(ws, 1)
        quiet = await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()
        return replayed, fresh, quiet

    replayed, fresh, quiet = asyncio.run(scenario())
    assert [c["change_id"] for c in replayed] == expected
    assert {c["status"] for c in replayed} == {"COMPLETED"}
    assert [c["change_id"] for c in fresh] == [expected[-1] + 1]
    assert quiet  # nothing twice


def test_more_missed_than_the_limit_is_a_reset(settings: SettingsWrapper) -> None:
    settings.WS_RESUME_LIMIT = 10
    ended_events(11)
    lifecycle.complete_ended()

    async def scenario() -> tuple[Any, bool]:
        ws = WebsocketCommunicator(application, "/ws/events/?after=0", headers=ORIGIN)
        assert (await ws.connect())[0]
        first = json.loads(await ws.receive_from(timeout=5))
        quiet = await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()
        return first, quiet

    assert asyncio.run(scenario()) == ({"type": "event.status.reset"}, True)


@pytest.mark.parametrize("after", ["abc", "-1", "1e3"])
def test_an_after_that_is_not_a_change_id_is_a_reset(after: str) -> None:
    async def scenario() -> Any:
        ws = WebsocketCommunicator(application, f"/ws/events/?after={after}", headers=ORIGIN)
        assert (await ws.connect())[0]
        first = json.loads(await ws.receive_from(timeout=5))
        await ws.disconnect()
        return first

    assert asyncio.run(scenario()) == {"type": "event.status.reset"}


def test_one_events_stream_replays_its_own_changes_and_the_public_one_no_private_draft() -> None:
    organizer = UserFactory.create()
    future = timezone.now() + timedelta(days=1)
    watched = EventFactory.create(organizer=organizer, status=Status.DRAFT, start_date=future)
    private = EventFactory.create(organizer=organizer, status=Status.DRAFT, start_date=future)
    after = 0
    lifecycle.confirm(watched.pk)
    lifecycle.cancel(private.pk)  # a DRAFT cancelled before it was confirmed: never public
    lifecycle.cancel(watched.pk)

    async def scenario(path: str, count: int) -> tuple[list[dict[str, Any]], bool]:
        ws = WebsocketCommunicator(application, path, headers=ORIGIN)
        assert (await ws.connect())[0]
        changes = await receive_changes(ws, count)
        quiet = await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()
        return changes, quiet

    own, quiet = asyncio.run(scenario(f"/ws/events/{watched.pk}/?after={after}", 2))
    assert [(c["event_id"], c["status"]) for c in own] == [
        (watched.pk, "CONFIRMED"),
        (watched.pk, "CANCELLED"),
    ]
    assert quiet
    public, quiet = asyncio.run(scenario(f"/ws/events/?after={after}", 2))
    assert [c["event_id"] for c in public] == [watched.pk, watched.pk]
    assert quiet


def test_a_socket_without_after_gets_only_live_messages_with_their_change_id() -> None:
    ended_events(3)
    lifecycle.complete_ended()

    async def scenario() -> tuple[bool, dict[str, Any]]:
        ws = WebsocketCommunicator(application, "/ws/events/", headers=ORIGIN)
        assert (await ws.connect())[0]
        quiet = await ws.receive_nothing(timeout=0.3)
        change = Transition(1, Status.ONGOING, Status.COMPLETED, timezone.now(), 77)
        await live(realtime.PUBLIC_GROUP, change)
        message = json.loads(await ws.receive_from(timeout=5))
        await ws.disconnect()
        return quiet, message

    quiet, message = asyncio.run(scenario())
    assert quiet
    assert message["change_id"] == 77
