"""The consumers in process, through the real ASGI stack and the real channel layer (Redis DB 0).

A client frame never crashes a consumer, a socket always leaves its group, unknown paths are
refused at the handshake, and a flooding client is closed (4008: see core.socket_limits). The same
through a real Daphne is in test_realtime_e2e.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest
import redis
from channels.layers import channel_layers, get_channel_layer
from channels.testing import WebsocketCommunicator
from pytest_django.fixtures import SettingsWrapper

from apps.events import realtime
from core.asgi import application
from core.socket_limits import POLICY_VIOLATION

ORIGIN = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]


@pytest.fixture(autouse=True)
def fresh_channel_layer() -> Iterator[None]:
    """A layer made on this test's event loop: its locks belong to the loop that made them, and
    the process-wide one may already be bound to realtime's push loop."""
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def members(client: redis.Redis, group: str) -> list[bytes]:
    """The channels in `group`, read from channels_redis' sorted set."""
    return list(client.zrange(get_channel_layer()._group_key(group), 0, -1))


def run(test: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(test())


def communicator(path: str) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, path, headers=ORIGIN)


async def push(text: str = '{"type":"event.status"}') -> None:
    await get_channel_layer().group_send(
        realtime.PUBLIC_GROUP, {"type": "event.status", "text": text}
    )


@pytest.mark.parametrize("path", ["/ws/abc/", "/ws/", "/ws/events/abc/", "/elsewhere/"])
def test_unknown_paths_are_refused_at_the_handshake(path: str) -> None:
    async def scenario() -> tuple[bool, Any]:
        ws = communicator(path)
        connected, code = await ws.connect()
        await ws.wait()
        return connected, code

    connected, _ = run(scenario)
    assert connected is False


@pytest.mark.django_db(transaction=True)
def test_an_event_id_beyond_bigint_is_closed_with_4404() -> None:
    async def scenario() -> Any:
        ws = communicator("/ws/events/99999999999999999999999999/")
        assert (await ws.connect())[0]
        return await ws.receive_output()

    assert run(scenario) == {"type": "websocket.close", "code": 4404}


def test_text_that_is_not_json_and_binary_frames_are_ignored(redis_db0: redis.Redis) -> None:
    async def scenario() -> str:
        ws = communicator("/ws/events/")
        assert (await ws.connect())[0]
        await ws.send_to(text_data="this is not JSON {")
        await ws.send_to(bytes_data=b"\x00\xff binary")
        await ws.send_to(text_data='{"type": "subscribe"}')
        await push('{"after":"garbage"}')
        received = await ws.receive_from(timeout=5)
        await ws.disconnect()
        return str(received)

    assert run(scenario) == '{"after":"garbage"}'
    assert members(redis_db0, realtime.PUBLIC_GROUP) == []


def test_a_push_is_forwarded_without_a_trip_to_the_sync_thread(
    redis_db0: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # channels' dispatch runs close_old_connections in the shared sync thread before a handler:
    # for a push to 1,000 sockets, 1,000 thread hops in a row. The push handlers skip it.
    hops: list[str] = []

    async def counted() -> None:
        hops.append("close_old_connections")

    monkeypatch.setattr("channels.consumer.aclose_old_connections", counted)

    async def scenario() -> list[str]:
        ws = communicator("/ws/events/")
        assert (await ws.connect())[0]
        before = len(hops)
        await push('{"type":"event.status","change_id":1}')
        await get_channel_layer().group_send(
            realtime.PUBLIC_GROUP, {"type": "event.status.batch", "text": "batch"}
        )
        received = [await ws.receive_from(timeout=5), await ws.receive_from(timeout=5)]
        assert len(hops) == before
        await ws.disconnect()
        return received

    assert run(scenario) == ['{"type":"event.status","change_id":1}', "batch"]


def test_the_channel_leaves_its_group_even_when_a_handler_raises(redis_db0: redis.Redis) -> None:
    async def scenario() -> list[bytes]:
        ws = communicator("/ws/events/")
        assert (await ws.connect())[0]
        joined = members(redis_db0, realtime.PUBLIC_GROUP)
        # A message without its text makes the handler raise: the consumer dies abnormally.
        await get_channel_layer().group_send(realtime.PUBLIC_GROUP, {"type": "event.status"})
        with pytest.raises(KeyError):
            await ws.wait(timeout=5)
        return joined

    assert len(run(scenario)) == 1
    assert members(redis_db0, realtime.PUBLIC_GROUP) == []


def test_a_client_flooding_frames_is_closed_and_leaves_its_group(
    redis_db0: redis.Redis, settings: SettingsWrapper
) -> None:
    settings.WS_MAX_FRAMES_PER_SECOND = 5

    async def scenario() -> Any:
        ws = communicator("/ws/events/")
        assert (await ws.connect())[0]
        for _ in range(20):
            await ws.send_to(text_data="{}")
        closed = await ws.receive_output(timeout=5)
        await ws.wait(timeout=5)
        return closed

    assert run(scenario) == {"type": "websocket.close", "code": POLICY_VIOLATION}
    assert members(redis_db0, realtime.PUBLIC_GROUP) == []


def test_a_client_under_the_rate_is_not_closed(
    redis_db0: redis.Redis, settings: SettingsWrapper
) -> None:
    settings.WS_MAX_FRAMES_PER_SECOND = 5

    async def scenario() -> bool:
        ws = communicator("/ws/events/")
        assert (await ws.connect())[0]
        for _ in range(5):
            await ws.send_to(text_data="{}")
        await push()
        await ws.receive_from(timeout=5)
        quiet = await ws.receive_nothing(timeout=0.2)
        await ws.disconnect()
        return quiet

    assert run(scenario)


@pytest.mark.parametrize("frame", [{"text_data": "x" * 4097}, {"bytes_data": b"x" * 4097}])
def test_a_frame_over_the_size_limit_is_closed(
    redis_db0: redis.Redis, settings: SettingsWrapper, frame: dict[str, str | bytes]
) -> None:
    settings.WS_MAX_FRAME_BYTES = 4096

    async def scenario() -> Any:
        ws = communicator("/ws/events/")
        assert (await ws.connect())[0]
        await ws.send_to(**frame)
        closed = await ws.receive_output(timeout=5)
        await ws.wait(timeout=5)
        return closed

    assert run(scenario) == {"type": "websocket.close", "code": POLICY_VIOLATION}
    assert members(redis_db0, realtime.PUBLIC_GROUP) == []
