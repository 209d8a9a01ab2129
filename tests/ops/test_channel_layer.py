"""core.channel_layer: one reader per process hands each message to the channels it names.

Real Redis throughout: the shared one (a prefix of each test's own) and, where it is killed, a
private `redis-server`. A stock channels_redis layer plays the other processes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from channels_redis.core import RedisChannelLayer as StockLayer
from django.conf import settings

from apps.events import realtime
from core.asgi import application
from core.channel_layer import RedisChannelLayer
from tests.support.faults import RedisServer

ORIGIN = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]


def run(test: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(test())


def layers(url: str | None = None) -> tuple[RedisChannelLayer, StockLayer]:
    """Ours (this process) and a stock layer (another process) on one prefix of this test's."""
    config = {"hosts": [url or settings.CHANNEL_LAYER_URL], "prefix": f"t{uuid.uuid4().hex[:8]}"}
    return RedisChannelLayer(**config), StockLayer(**config)


def test_every_channel_of_the_process_receives_each_group_message_once_in_order() -> None:
    async def scenario() -> tuple[list[list[int]], int]:
        ours, other = layers()
        channels = [await ours.new_channel() for _ in range(300)]
        for channel in channels:
            await ours.group_add("watchers", channel)
        for n in range(5):
            await other.group_send("watchers", {"type": "event.status", "n": n})

        async def five(channel: str) -> list[int]:
            return [(await ours.receive(channel))["n"] for _ in range(5)]

        received = await asyncio.wait_for(asyncio.gather(*map(five, channels)), 10)
        extra = await asyncio.gather(
            *(asyncio.wait_for(ours.receive(c), 0.3) for c in channels), return_exceptions=True
        )
        await ours.close_pools()
        await other.close_pools()
        return list(received), sum(not isinstance(e, TimeoutError) for e in extra)

    received, more = run(scenario)
    assert received == [[0, 1, 2, 3, 4]] * 300
    assert more == 0, "a message was delivered twice"


def test_a_channel_receives_what_was_sent_while_nothing_was_receiving() -> None:
    """Between two receives (a consumer busy sending) messages wait, in Redis or in its buffer."""

    async def scenario() -> list[int]:
        ours, other = layers()
        channel = await ours.new_channel()
        await ours.group_add("g", channel)
        await other.group_send("g", {"type": "t", "n": 0})
        first = await asyncio.wait_for(ours.receive(channel), 5)
        for n in (1, 2, 3):
            await other.group_send("g", {"type": "t", "n": n})
        await asyncio.sleep(0.2)
        rest = [(await asyncio.wait_for(ours.receive(channel), 5))["n"] for _ in range(3)]
        await ours.close_pools()
        await other.close_pools()
        return [first["n"], *rest]

    assert run(scenario) == [0, 1, 2, 3]


def test_the_reader_stops_with_the_last_channel_and_a_new_channel_starts_it_again() -> None:
    async def scenario() -> tuple[bool, bool, int]:
        ours, other = layers()
        first = await ours.new_channel()
        waiting = asyncio.ensure_future(ours.receive(first))
        await asyncio.sleep(0.1)
        reader = ours._reader
        waiting.cancel()  # how a consumer ends
        await asyncio.gather(waiting, return_exceptions=True)
        await asyncio.sleep(0.1)
        stopped = reader is not None and reader.cancelled() and not ours.open_channels

        second = await ours.new_channel()
        await ours.group_add("g", second)
        await other.group_send("g", {"type": "t", "n": 7})
        message = await asyncio.wait_for(ours.receive(second), 5)
        restarted = ours._reader is not None and not ours._reader.done()
        await ours.close_pools()
        await other.close_pools()
        return stopped, restarted, message["n"]

    assert run(scenario) == (True, True, 7)


def test_a_failed_read_ends_every_waiting_receive() -> None:
    """As channels_redis's lock holder would: the consumers end, their sockets close, and the
    clients reconnect with `?after=` to be replayed what they missed."""
    server = RedisServer().start()
    try:

        async def scenario() -> list[BaseException | dict[str, Any]]:
            ours, _ = layers(server.url)
            channels = [await ours.new_channel() for _ in range(3)]
            waiting = [asyncio.ensure_future(ours.receive(c)) for c in channels]
            await asyncio.sleep(0.3)
            server.kill()
            return list(
                await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), 10)
            )

        outcomes = run(scenario)
    finally:
        server.stop()
    assert len(outcomes) == 3
    assert all(isinstance(outcome, Exception) for outcome in outcomes), outcomes


def test_sockets_that_leave_leave_nothing_behind() -> None:
    """100 sockets through the real consumers, pushed to, then closed: no open channel, no
    buffer, no reader left in the process."""
    channel_layers.backends.clear()  # a layer made on this test's event loop

    async def scenario() -> tuple[int, int, int, bool]:
        sockets = [
            WebsocketCommunicator(application, "/ws/events/", headers=ORIGIN) for _ in range(100)
        ]
        for ws in sockets:
            assert (await ws.connect())[0]
        layer = channel_layers["default"]
        await layer.group_send(realtime.PUBLIC_GROUP, {"type": "event.status", "text": "{}"})
        got = sum([await ws.receive_from(5) == "{}" for ws in sockets])
        for ws in sockets:
            await ws.disconnect()
        await asyncio.sleep(0.1)
        left = (len(layer.open_channels), len(layer.receive_buffer), layer._reader is None)
        await layer.close_pools()
        return (got, *left)

    try:
        assert run(scenario) == (100, 0, 0, True)
    finally:
        channel_layers.backends.clear()


def test_a_socket_whose_handler_raised_leaves_nothing_behind() -> None:
    """A message its handler cannot take (no `text`) ends the consumer with no receive pending:
    the consumer itself tells the layer, or the channel and the reader would stay forever."""
    channel_layers.backends.clear()

    async def scenario() -> tuple[bool, int, bool]:
        ws = WebsocketCommunicator(application, "/ws/events/", headers=ORIGIN)
        assert (await ws.connect())[0]
        layer = channel_layers["default"]
        await layer.group_send(realtime.PUBLIC_GROUP, {"type": "event.status"})
        crashed = False
        try:
            await ws.receive_output(5)
        except KeyError:
            crashed = True
        left = (len(layer.open_channels), layer._reader is None)
        await layer.close_pools()
        return (crashed, *left)

    try:
        assert run(scenario) == (True, 0, True)
    finally:
        channel_layers.backends.clear()
