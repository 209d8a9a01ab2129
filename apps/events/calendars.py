"""Calendar files (CONTRACT §10): one VEVENT per event, the same in the `.ics` of one event, the
personal feed of My Events and the reminder emails' attachment.

A VEVENT keeps its `UID` for the event's whole life. Its `SEQUENCE` grows whenever the dates or
the status change (the dates' revision plus the number of status changes), so calendar clients
replace their copy; a cancelled event stays in the file with `STATUS:CANCELLED`, which is how
clients learn to strike it. `DTSTAMP` and `LAST-MODIFIED` are the event's `updated_at`, so the
same event renders to the same bytes and a feed's `ETag` changes only when an event does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from apps.events import zones
from apps.events.models import Event, EventStatusChange

Status = Event.EventStatus

PRODID = "-//Eventide//Event lifecycle//EN"
# A zone's VTIMEZONE covers its events' dates with this margin either side.
VTIMEZONE_MARGIN = timedelta(days=366)
# What a calendar client shows for each status: only a cancellation strikes the entry.
ICAL_STATUS = {
    Status.DRAFT: "TENTATIVE",
    Status.CONFIRMED: "CONFIRMED",
    Status.ONGOING: "CONFIRMED",
    Status.COMPLETED: "CONFIRMED",
    Status.ARCHIVED: "CONFIRMED",
    Status.CANCELLED: "CANCELLED",
}


def with_sequence(queryset: QuerySet[Event]) -> QuerySet[Event]:
    """Annotates `status_change_count`, which `sequence_of` adds to the dates' revision.

    A subquery per event (statuschange_event_idx), not a join: a join would multiply the rows
    that `selectors.with_counts` counts participants over."""
    changes = (
        EventStatusChange.objects.filter(event=OuterRef("pk"))
        .order_by()
        .values("event")
        .annotate(n=Count("id"))
        .values("n")
    )
    return queryset.annotate(status_change_count=Coalesce(Subquery(changes), 0))


def sequence_of(event: Event) -> int:
    changes = getattr(event, "status_change_count", None)
    if changes is None:
        changes = event.status_changes.count()
    return int(event.dates_revision) + int(changes)


def uid_of(event: Event) -> str:
    return f"event-{event.pk}@eventide"


def _ical_time(value: datetime, tz: ZoneInfo) -> datetime:
    """Local time with its TZID; the second occurrence of an ambiguous local time cannot be told
    from the first by TZID and wall time alone, so it is written in UTC instead."""
    local = value.astimezone(tz)
    if local.fold and local.replace(fold=0).utcoffset() != local.utcoffset():
        return value.astimezone(UTC)
    return local


def vevent(event: Event) -> icalendar.Event:
    """The event with its times local to its zone (TZID; the VTIMEZONE is the document's)."""
    tz = zones.zone(event.timezone)
    entry = icalendar.Event()
    entry.add("uid", uid_of(event))
    entry.add("dtstamp", event.updated_at)
    entry.add("last-modified", event.updated_at)
    entry.add("sequence", sequence_of(event))
    entry.add("dtstart", _ical_time(event.start_date, tz))
    if event.end_date is not None:
        entry.add("dtend", _ical_time(event.end_date, tz))
    entry.add("summary", event.title)
    if event.venue:
        entry.add("location", event.venue)
    if event.description:
        entry.add("description", event.description)
    entry.add("status", ICAL_STATUS[Status(event.status)])
    return entry


def vtimezones(events: list[Event]) -> list[icalendar.Timezone]:
    """One VTIMEZONE per zone the events use, covering their dates (with a margin)."""
    spans: dict[str, tuple[datetime, datetime]] = {}
    for event in events:
        key = zones.zone(event.timezone).key
        first, last = event.start_date, event.end_date or event.start_date
        if key in spans:
            first, last = min(first, spans[key][0]), max(last, spans[key][1])
        spans[key] = (first, last)
    return [
        icalendar.Timezone.from_tzinfo(
            ZoneInfo(key),
            tzid=key,
            first_date=(first - VTIMEZONE_MARGIN).date(),
            last_date=(last + VTIMEZONE_MARGIN).date(),
        )
        for key, (first, last) in sorted(spans.items())
    ]


def document(events: Iterable[Event], *, name: str | None = None) -> bytes:
    """A VCALENDAR (method PUBLISH) holding the zones used and one VEVENT per event."""
    events = list(events)
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    if name:
        calendar.add("x-wr-calname", name)
    for timezone in vtimezones(events):
        calendar.add_component(timezone)
    for event in events:
        calendar.add_component(vevent(event))
    return bytes(calendar.to_ical())


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
