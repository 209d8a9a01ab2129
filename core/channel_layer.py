"""The channel layer: channels_redis's `RedisChannelLayer`, with one reader per process.

All the channels of one process share one Redis list (`specific.<client prefix>!`); a group send
puts one message there naming every member channel of the process. channels_redis reads it
through whichever consumer holds a lock: each consumer waiting in `receive` waits on that lock
and on its own buffer at once (two tasks), and when a message arrives every other consumer
cancels its wait on the lock, a task switch or three per socket and message. A sweep's batch
sent to 1,000 sockets was 1,000 of those dances for each message, the largest part of Daphne's
time in delivering it (py-spy, stop 26).

Here one reader task per process pops the list and puts each message into the buffers of the
channels it names; a consumer's `receive` waits on its own buffer and nothing else. Sending,
groups, expiry, capacity, the backup list that keeps a message popped by a cancelled read, and
the wire format are channels_redis's own, unchanged: processes running either class share a
layer.

The reader runs while a channel of this process is open: from `new_channel` (or a first
`receive`) until a `receive` on it is cancelled, which is how a consumer ends, or until
`discard_channel` (the consumers call it as they end, whatever ended them). It is cancelled
with the last one; a read cancelled after its pop leaves the message in the backup list, from
which the next read restores it (channels_redis's own guarantee for a cancelled receive).
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, cast

from channels_redis import core


@dataclass(frozen=True)
class ReadFailed:
    """Put in a channel's buffer when the reader failed: its receive raises `error`."""

    error: Exception


class RedisChannelLayer(core.RedisChannelLayer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.open_channels: set[str] = set()
        self._reader: asyncio.Task[None] | None = None

    async def new_channel(self, prefix: str = "specific") -> str:
        channel = await super().new_channel(prefix)
        self.open_channels.add(channel)
        return channel

    async def receive(self, channel: str) -> dict[str, Any]:
        if "!" not in channel:
            return await super().receive(channel)
        assert self.require_valid_channel_name(channel)
        real_channel = self.non_local_name(channel)
        assert real_channel.endswith(self.client_prefix + "!"), "Wrong client prefix"
        self._ensure_reader(real_channel)
        self.open_channels.add(channel)
        buffer = self.receive_buffer[channel]
        self.receive_count += 1
        try:
            message = await buffer.get()
        except asyncio.CancelledError:
            self.discard_channel(channel)
            raise
        finally:
            self.receive_count -= 1
        if buffer.empty():
            del self.receive_buffer[channel]
        if isinstance(message, ReadFailed):
            raise message.error
        return cast(dict[str, Any], message)

    async def close_pools(self) -> None:
        """Stop the reader first: it would fail on the closed connection."""
        reader, self._reader = self._reader, None
        if reader is not None and reader.get_loop() is asyncio.get_running_loop():
            reader.cancel()
            with suppress(asyncio.CancelledError):
                await reader
        await super().close_pools()

    def discard_channel(self, channel: str) -> None:
        """The consumer of `channel` has ended. Its cancelled receive says so too, but a consumer
        whose handler raised ends with no receive pending."""
        self.open_channels.discard(channel)
        self.receive_buffer.pop(channel, None)
        if not self.open_channels and self._reader is not None:
            self._reader.cancel()
            self._reader = None

    def _ensure_reader(self, real_channel: str) -> None:
        loop = asyncio.get_running_loop()
        reader = self._reader
        if reader is not None and not reader.done():
            if reader.get_loop() is loop:
                return
            if not reader.get_loop().is_closed() and self.receive_count:
                raise RuntimeError(
                    "Two event loops are trying to receive() on one channel layer at once!"
                )
        self._reader = loop.create_task(self._read(real_channel), name="channel-layer-reader")

    async def _read(self, real_channel: str) -> None:
        """Pop this process's list into the buffers of the open channels each message names."""
        while True:
            try:
                message_channel, message = await self.receive_single(real_channel)
            except Exception as error:
                self._fail(error)
                return
            for channel in (
                message_channel if isinstance(message_channel, list) else [message_channel]
            ):
                if channel in self.open_channels:
                    self.receive_buffer[channel].put_nowait(message)

    def _fail(self, error: Exception) -> None:
        """Every open channel's receive raises `error`, as the one holding channels_redis's lock
        would: its consumer ends and the socket closes, and a client that reconnects with
        `?after=` is replayed what it missed while the layer was down. The next receive starts
        a new reader."""
        self._reader = None
        for channel in self.open_channels:
            self.receive_buffer[channel].put_nowait(ReadFailed(error))
