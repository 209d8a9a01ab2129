"""WebSocket consumers (CONTRACT §5): thin shells that join a group and forward its messages.

`ws/events/` streams the status changes of public events; `ws/events/{id}/` those of one event,
and is closed with code 4404 when the user may not see it (unknown id, someone else's DRAFT).
Every message carries its `change_id`; a client that reconnects with `?after=<change_id>` is first
sent what it missed, then the live messages, without a gap or a duplicate (`resume`).

The stream is one-way: client frames are never parsed, so no frame (text, binary, not JSON) can
crash a consumer; their rate and size are limited in front of the consumers (core.socket_limits).
"""

from __future__ import annotations

from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from apps.events import realtime, resume, selectors
from apps.events.models import Event
from core import channel_layer

NOT_FOUND = 4404
# The channel-layer messages of a push (realtime.channel_message), dispatched without a database.
PUSH_TYPES = frozenset({"event.status", "event.status.batch"})


class StatusForwardingConsumer(AsyncWebsocketConsumer):
    """Forwards the group's `event.status` and `event.status.batch` messages to the client."""

    group: str | None = None
    # After a replay: the last change id it sent; live changes up to it are not sent again.
    replayed_through: int | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Whatever ends the socket (a disconnect, a handler that raised, a cancelled task), the
        # channel leaves its group: a stale member would be sent every push for group_expiry;
        # and the layer forgets it (core.channel_layer).
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.leave()
            if isinstance(self.channel_layer, channel_layer.RedisChannelLayer):
                self.channel_layer.discard_channel(self.channel_name)

    async def join(self, group: str, event_id: int | None = None) -> None:
        """Join the group, then replay what a resuming client missed (the order matters: every
        change committed after the replay's read reaches the group, see `resume`)."""
        self.group = group
        await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        after = resume.after_of(self.scope.get("query_string", b""))
        if after is not None:
            await self.replay(after, event_id)

    async def replay(self, after: int, event_id: int | None) -> None:
        missed = None
        if after != resume.UNREADABLE:
            missed = await database_sync_to_async(resume.missed)(after, event_id)
        if missed is None:
            await self.send(text_data=realtime.client_text(resume.RESET))
            return
        for message in resume.replay_messages(missed, public=event_id is None):
            await self.send(text_data=realtime.client_text(message))
        self.replayed_through = max([after, *(change.change_id or 0 for change in missed)])

    async def leave(self) -> None:
        group, self.group = self.group, None
        if group:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def disconnect(self, code: int) -> None:
        await self.leave()

    async def dispatch(self, message: dict[str, Any]) -> None:
        """A push goes straight to its handler; anything else through channels' `dispatch`.

        channels' `dispatch` first runs `close_old_connections` through `sync_to_async` for every
        message, in the one thread-sensitive executor thread every consumer of the process
        shares: a sweep's batch, sent to 1,000 sockets, queued 1,000 thread hops behind each
        other (about two thirds of Daphne's CPU time in delivering one). The push handlers never
        touch the database; the handlers that do (`may_see`, the replay) use
        `database_sync_to_async`, which closes old connections around each call itself.
        """
        if message["type"] in PUSH_TYPES:
            await getattr(self, get_handler_name(message))(message)
            return
        await super().dispatch(message)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """What the client says is ignored, unread."""

    async def event_status(self, message: dict[str, Any]) -> None:
        # Serialised once by the publisher, not once per socket (realtime.channel_message).
        if self.replayed_through is None:
            await self.send(text_data=message["text"])
            return
        text = resume.unseen(message, self.replayed_through)
        if text is not None:
            await self.send(text_data=text)

    async def event_status_batch(self, message: dict[str, Any]) -> None:
        await self.event_status(message)


class PublicEventsConsumer(StatusForwardingConsumer):
    async def connect(self) -> None:
        await self.join(realtime.PUBLIC_GROUP)


class EventConsumer(StatusForwardingConsumer):
    async def connect(self) -> None:
        event_id = self.scope["url_route"]["kwargs"]["event_id"]
        if not await self.may_see(event_id):
            # Accept first: a handshake refused before accept() reaches the client as HTTP 403.
            await self.accept()
            await self.close(code=NOT_FOUND)
            return
        await self.join(realtime.event_group(event_id), event_id)

    @database_sync_to_async
    def may_see(self, event_id: int) -> bool:
        event = Event.objects.filter(pk=event_id).first()
        return event is not None and selectors.can_see(self.scope.get("user"), event)
