"""Inbound limits for every WebSocket (CONTRACT §5): a client that floods is closed with 4008.

Daphne reads every frame a client sends and queues it for the application; one client sending
small frames as fast as it could starved the whole process (HTTP 17 s, pushes 12-17 s late). This
middleware sits in front of the consumers and counts each frame as the application receives it:
over `WS_MAX_FRAMES_PER_SECOND` (a token bucket, one second of burst) or bigger than
`WS_MAX_FRAME_BYTES`, the socket is closed and the consumer is told it disconnected, so it leaves
its groups at once. The code is 4008, 1008 (policy violation) in the private range: Daphne's
autobahn refuses to send any code from 1001 to 2999 for an application ("invalid close code").
Daphne's own `--websocket-max-message-size` (1 MiB by default) bounds what it buffers first.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from django.conf import settings

POLICY_VIOLATION = 4008

Scope = dict[str, Any]
Message = dict[str, Any]


class FrameBudget:
    """A token bucket of `per_second` frames (burst: one second's worth) and a size cap."""

    def __init__(self, per_second: float, max_bytes: int) -> None:
        self.per_second = per_second
        self.max_bytes = max_bytes
        self.tokens = per_second
        self.refilled_at = time.monotonic()

    def allows(self, message: Message) -> bool:
        now = time.monotonic()
        self.tokens = min(self.per_second, self.tokens + (now - self.refilled_at) * self.per_second)
        self.refilled_at = now
        if self.tokens < 1 or frame_size(message) > self.max_bytes:
            return False
        self.tokens -= 1
        return True


def frame_size(message: Message) -> int:
    if message.get("bytes") is not None:
        return len(message["bytes"])
    return len(str(message.get("text") or "").encode())


class InboundFrameLimit:
    """ASGI middleware: applies a fresh `FrameBudget` to each WebSocket's inbound frames.

    A task of its own pulls the server's messages as they come, so a flood is counted at the
    rate it arrives: a channels consumer takes one message per turn of the event loop, and under
    a flood each turn is Daphne parsing thousands of frames (measured: 27 frames reached a
    consumer in 5 s while Daphne read 370,000).
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        budget = FrameBudget(settings.WS_MAX_FRAMES_PER_SECOND, settings.WS_MAX_FRAME_BYTES)
        inbox: asyncio.Queue[Message] = asyncio.Queue()

        async def pump() -> None:
            while True:
                message: Message = await receive()
                if message["type"] == "websocket.receive" and not budget.allows(message):
                    await send({"type": "websocket.close", "code": POLICY_VIOLATION})
                    message = {"type": "websocket.disconnect", "code": POLICY_VIOLATION}
                inbox.put_nowait(message)
                if message["type"] == "websocket.disconnect":
                    return

        pumping = asyncio.ensure_future(pump())
        try:
            return await self.app(scope, inbox.get, send)
        finally:
            pumping.cancel()
