"""Resuming a live stream (CONTRACT §5): what a socket that reconnects with `?after=<change_id>`
missed, in change id order, or None when that is more than WS_RESUME_LIMIT changes (the client
is then told to re-fetch: `event.status.reset`).

The consumer joins its group *before* it reads what was missed, so every change is in the replay,
in the live messages, or in both; it then drops live changes at or below the last id it replayed.
No gap, no duplicate.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings

from apps.events import realtime
from apps.events.models import EventStatusChange
from apps.events.transitions import Transition

RESET: dict[str, Any] = {"type": "event.status.reset"}
# Stands for an `after` that is not a change id: the client cannot be resumed, it re-fetches.
UNREADABLE = -1


def after_of(query_string: bytes) -> int | None:
    """The `after` of a socket's query string: None when absent, UNREADABLE when not an id."""
    values = parse_qs(query_string.decode("latin-1")).get("after")
    if not values:
        return None
    value = values[-1]
    return int(value) if value.isdigit() and len(value) <= 18 else UNREADABLE


def missed(after: int, event_id: int | None = None) -> list[Transition] | None:
    """The changes after `after` that the socket may see: one event's, or the public stream's."""
    limit = settings.WS_RESUME_LIMIT
    rows = EventStatusChange.objects.filter(id__gt=after).order_by("id")
    rows = (
        rows.filter(event_id=event_id) if event_id is not None else rows.filter(realtime.public_q())
    )
    found = list(rows.values_list("event_id", "from_status", "to_status", "at", "id")[: limit + 1])
    if len(found) > limit:
        return None
    return [Transition(*row) for row in found]


def replay_messages(changes: list[Transition], *, public: bool) -> list[dict[str, Any]]:
    """The messages a live socket would have been sent for `changes`, in order."""
    if public:
        return realtime.public_messages(changes)
    return [realtime.status_message(change) for change in changes]


def unseen(message: dict[str, Any], replayed_through: int) -> str | None:
    """The client text of a live channel message without the changes the replay already sent;
    None when nothing is left. A message without change ids is passed as it is."""
    first, last = message.get("first_change_id"), message.get("last_change_id")
    if first is None or last is None or first > replayed_through:
        return str(message["text"])
    if last <= replayed_through:
        return None
    payload = json.loads(message["text"])
    payload["changes"] = [c for c in payload["changes"] if c["change_id"] > replayed_through]
    return realtime.client_text(payload)
