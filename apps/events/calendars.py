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

import icalendar
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from apps.events.models import Event, EventStatusChange

Status = Event.EventStatus

PRODID = "-//Eventide//Event lifecycle//EN"
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


def vevent(event: Event) -> icalendar.Event:
    entry = icalendar.Event()
    entry.add("uid", uid_of(event))
    entry.add("dtstamp", event.updated_at)
    entry.add("last-modified", event.updated_at)
    entry.add("sequence", sequence_of(event))
    entry.add("dtstart", event.start_date)
    if event.end_date is not None:
        entry.add("dtend", event.end_date)
    entry.add("summary", event.title)
    if event.venue:
        entry.add("location", event.venue)
    if event.description:
        entry.add("description", event.description)
    entry.add("status", ICAL_STATUS[Status(event.status)])
    return entry


def document(events: Iterable[Event], *, name: str | None = None) -> bytes:
    """A VCALENDAR (method PUBLISH) holding one VEVENT per event."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    if name:
        calendar.add("x-wr-calname", name)
    for event in events:
        calendar.add_component(vevent(event))
    return bytes(calendar.to_ical())


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
