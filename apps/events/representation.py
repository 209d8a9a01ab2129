"""The Event JSON of CONTRACT §4, below the API: the API's serializer and the webhook payloads
(CONTRACT §9) both render an event with `event_json`."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from apps.events import zones
from apps.events.models import Event


def event_json(event: Event) -> dict[str, Any]:
    """The same JSON DRF's fields would give, built directly: a list page serialises 20-100
    events per request, and the generic field machinery was most of its cost.

    `participant_count` is read from the annotation `selectors.with_counts` adds."""
    organizer = event.organizer
    tz = zones.zone(event.timezone)
    return {
        "id": event.pk,
        "title": event.title,
        "description": event.description,
        "venue": event.venue,
        "timezone": tz.key,
        "start_date": iso(event.start_date, tz),
        "end_date": iso(event.end_date, tz),
        "status": event.status,
        "capacity": event.capacity,
        "participant_count": getattr(event, "participant_count", None),
        "organizer": {"id": organizer.pk, "username": organizer.get_username()},
        "created_at": iso(event.created_at, tz),
        "updated_at": iso(event.updated_at, tz),
        "completed_at": iso(event.completed_at, tz),
    }


def iso(value: datetime | None, tz: ZoneInfo | None = None) -> str | None:
    """ISO 8601 with the offset `tz` (else the current zone, Europe/London) has at that instant;
    Z when it is zero, as DRF's DateTimeField writes it (CONTRACT §2 "Time zones")."""
    if value is None:
        return None
    text = (value.astimezone(tz) if tz is not None else timezone.localtime(value)).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
