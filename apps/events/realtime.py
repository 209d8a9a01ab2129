"""Push status changes to WebSocket clients through the channel layer (Redis DB 0), CONTRACT §5.

`effects.announce` calls `publish_transitions` once the transition has committed, from every path
(API, admin, pages, Celery sweeps). A sweep can move thousands of events at once, so:

- the public stream gets the changes in batches of `BATCH_SIZE`, not one message each;
- a per-event group is sent to only when a socket watches it (one server-side script per Redis
  shard finds which, however many events changed);
- each message is serialised to JSON once, here, not once per connected socket: the channel
  message carries the client's text (`text`) and the consumers send it as it is;
- all sends of one publish run as one coroutine on a process-wide event loop. The channel layer
  keeps its Redis connections per event loop, so reusing the loop reuses them, where
  `async_to_sync` would open a new connection on every call;
- a publish is bounded by `push_timeout()` (2 s, more for big sweeps): a down Redis costs a
  sweep that long at most, and the caller only logs the failure, because the change is saved.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.db.models import Q

from apps.events.models import Event
from apps.events.transitions import Transition

PUBLIC_GROUP = "events.public"
BATCH_SIZE = 500
PUSH_TIMEOUT = 2.0
# A big sweep takes longer legitimately (measured 15-30 µs a change): allow 100 µs a change more.
PUSH_TIMEOUT_PER_CHANGE = 0.0001
# Bounds the Redis connections one publish opens when many watched events change at once.
MAX_CONCURRENT_SENDS = 8
# What a client receives for one change; the channel layer adds keys of its own to the message.
MESSAGE_FIELDS = ("type", "event_id", "status", "previous_status", "at", "change_id")


class PushFailed(Exception):
    """Some messages of a publish did not reach the channel layer."""


def event_group(event_id: int) -> str:
    return f"events.{event_id}"


def status_message(change: Transition) -> dict[str, Any]:
    """The §5 message for one change; also the channel-layer message the consumers dispatch on."""
    return {
        "type": "event.status",
        "event_id": change.event_id,
        "status": str(change.to_status),
        "previous_status": str(change.from_status),
        "at": change.at.isoformat(),
        "change_id": change.change_id,
    }


def public_q() -> Q:
    """`is_public` as a filter on EventStatusChange rows (the replay of a resumed stream)."""
    draft = Event.EventStatus.DRAFT
    confirmed = Q(from_status=draft, to_status=Event.EventStatus.CONFIRMED)
    return confirmed | (~Q(from_status=draft) & ~Q(to_status=draft))


def is_public(change: Transition) -> bool:
    """Anyone may see the event after this change (the rule of `selectors.can_see`).

    DRAFT → CANCELLED is the cancellation of an event that was never confirmed, never public.
    """
    if change.from_status == Event.EventStatus.DRAFT:
        return change.to_status == Event.EventStatus.CONFIRMED
    return change.to_status != Event.EventStatus.DRAFT


def public_messages(changes: Sequence[Transition]) -> list[dict[str, Any]]:
    """One `event.status` for a single change, else `event.status.batch` chunks of BATCH_SIZE."""
    messages = [status_message(change) for change in changes if is_public(change)]
    if len(messages) == 1:
        return messages
    return [
        {"type": "event.status.batch", "changes": messages[i : i + BATCH_SIZE]}
        for i in range(0, len(messages), BATCH_SIZE)
    ]


def push_timeout(count: int) -> float:
    """How long a publish of `count` changes may take before it is abandoned."""
    return PUSH_TIMEOUT + count * PUSH_TIMEOUT_PER_CHANGE


def publish_transitions(changes: Sequence[Transition]) -> None:
    """Send `changes` to the public stream and to the sockets watching each event.

    Raises (PushFailed, TimeoutError, a Redis error) when the push failed; callers log it.
    """
    if not changes:
        return
    layer = get_channel_layer()
    if layer is None:
        return
    future = asyncio.run_coroutine_threadsafe(_publish(layer, changes), _push_loop())
    try:
        future.result(timeout=push_timeout(len(changes)))
    except TimeoutError:
        future.cancel()
        raise


def channel_message(message: dict[str, Any]) -> dict[str, Any]:
    """What goes through the channel layer: the handler's type, the client's JSON text, and the
    range of change ids it holds (a resumed socket drops what its replay already sent)."""
    ids = [c["change_id"] for c in message.get("changes", [message]) if c.get("change_id")]
    layer_message = {"type": message["type"], "text": client_text(message)}
    if ids:
        layer_message.update(first_change_id=min(ids), last_change_id=max(ids))
    return layer_message


def client_text(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


async def _publish(layer: Any, changes: Sequence[Transition]) -> None:
    public = [channel_message(message) for message in public_messages(changes)]
    by_group = {event_group(change.event_id): change for change in changes}
    watched = [
        (group, channel_message(status_message(by_group[group])))
        for group in await _watched(layer, by_group)
    ]
    limit = asyncio.Semaphore(MAX_CONCURRENT_SENDS)

    async def send(group: str, message: dict[str, Any]) -> None:
        async with limit:
            await layer.group_send(group, message)

    async def send_public() -> None:
        # One after the other: a client keeps the highest change id it saw to resume from, so
        # a batch must not overtake the one before it.
        for message in public:
            await send(PUBLIC_GROUP, message)

    results = await asyncio.gather(
        send_public(), *(send(g, m) for g, m in watched), return_exceptions=True
    )
    errors = [result for result in results if isinstance(result, BaseException)]
    if errors:
        sends = len(watched) + bool(public)
        raise PushFailed(f"{len(errors)} of {sends} group sends failed") from errors[0]


# The 1-based positions of the keys that have members (ZCARD > 0), computed inside Redis.
_WATCHED_SCRIPT = """
local watched = {}
for i, key in ipairs(KEYS) do
  if redis.call('ZCARD', key) > 0 then watched[#watched + 1] = i end
end
return watched
"""


async def _watched(layer: Any, groups: Iterable[str]) -> list[str]:
    """The groups that have members: one script call per Redis shard, not a command per group.

    Other layers (the in-memory one of a test) get a send to every group.
    """
    groups = list(groups)
    if not isinstance(layer, RedisChannelLayer):
        return groups
    by_shard: dict[int, list[str]] = {}
    for group in groups:
        by_shard.setdefault(layer.consistent_hash(group), []).append(group)
    watched: list[str] = []
    for shard, shard_groups in by_shard.items():
        keys = [layer._group_key(group) for group in shard_groups]
        positions = await layer.connection(shard).eval(_WATCHED_SCRIPT, len(keys), *keys)
        watched.extend(shard_groups[int(i) - 1] for i in positions)
    return watched


# --- the process-wide event loop -----------------------------------------------------------------

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _push_loop() -> asyncio.AbstractEventLoop:
    """The event loop that runs every publish of this process, started on first use."""
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="realtime-push", daemon=True).start()
        return _loop


def _forget_loop_after_fork() -> None:
    # A forked child (a Celery pool process) inherits the loop but not the thread running it.
    global _loop, _loop_lock
    _loop = None
    _loop_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_loop_after_fork)
