"""Creating, editing and deleting events (CONTRACT §4): which statuses allow what.

Status itself never changes here: that is `lifecycle`'s job. An event can be edited until it is
over (COMPLETED, CANCELLED, ARCHIVED) and deleted only while it is a DRAFT. Every change is
checked against `rules` here, under the event's row lock (the lock joins take), whether it comes
from the API, a page or the admin.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F

from apps.events import clock, effects, errors, rules, zones
from apps.events.messages import configuring as messages
from apps.events.models import Event

Status = Event.EventStatus

EDITABLE_FIELDS = (
    "title",
    "description",
    "venue",
    "timezone",
    "start_date",
    "end_date",
    "capacity",
)
FINISHED_STATUSES = frozenset({Status.COMPLETED, Status.CANCELLED, Status.ARCHIVED})
# Moving a date (or the zone local times are read in) moves the due moments: the pending
# deliveries move and the wake-up is rescheduled.
DATE_FIELDS = frozenset({"start_date", "end_date", "timezone"})
# A change of these is a new version of the event for calendars (SEQUENCE, calendars.py): the
# zone too, since the local times a calendar shows move with it.
CALENDAR_FIELDS = DATE_FIELDS


def can_edit(event: Event) -> bool:
    return event.status not in FINISHED_STATUSES


def check_editable(event: Event) -> None:
    """Raises EditRefused when the event is finished (before reading a body that edits it)."""
    if not can_edit(event):
        raise errors.EditRefused(f"Event is {event.status}; finished events cannot be edited.")


def create_event(organizer: User, **fields: Any) -> Event:
    """A new DRAFT event organized by `organizer`, with the default reminder rule; naive
    datetimes are read in its zone."""
    _check_fields(fields)
    fields = read_times(fields)
    rules.check_dates(fields.get("start_date"), fields.get("end_date"))
    with transaction.atomic():
        event = Event.objects.create(organizer=organizer, status=Status.DRAFT, **fields)
        messages.add_default_rule(event)
    return event


def update_event(event_id: int, **fields: Any) -> Event:
    """Change an event's details while it is not finished and the result obeys `rules`.

    Raises EditRefused for a finished event, Refused/InvalidValue (`errors`) for a change a rule
    forbids; naive datetimes are read as `read_times` says. Locked so neither a transition nor
    a join can slip between the checks and the write.
    """
    _check_fields(fields)
    with transaction.atomic():
        event = Event.objects.select_for_update().get(pk=event_id)
        check_editable(event)
        fields = read_times(fields, event)
        check_change(event, fields)
        moved = any(getattr(event, f) != fields[f] for f in CALENDAR_FIELDS & fields.keys())
        for name, value in fields.items():
            setattr(event, name, value)
        saved = [*fields, "updated_at"]
        if moved:
            event.dates_revision = F("dates_revision") + 1
            saved.append("dates_revision")
        event.save(update_fields=saved)
        if moved:
            event.refresh_from_db(fields=["dates_revision"])
        if DATE_FIELDS & fields.keys():
            messages.reschedule_event(event)
            effects.reschedule_after_commit(event.pk)
    return event


def read_times(fields: dict[str, Any], event: Event | None = None) -> dict[str, Any]:
    """`fields` with naive datetimes read in the zone sent with them, else the event's, else
    TIME_ZONE (CONTRACT §2). Raises InvalidValue naming `timezone` for an unknown zone and naming
    the date for a local time that does not exist there. Sending only a zone moves no instant."""
    if "timezone" in fields:
        tz = zones.check_timezone(fields["timezone"])
    else:
        tz = zones.zone(event.timezone if event is not None else None)
    return zones.read_fields(fields, tz)


def check_change(event: Event, fields: dict[str, Any]) -> None:
    """Whether `fields` may be written to `event` as it is now (call with the row locked)."""
    start = fields.get("start_date", event.start_date)
    rules.check_dates(start, fields.get("end_date", event.end_date))
    if "start_date" in fields and start != event.start_date:
        rules.check_start(event, start, clock.now())
    if fields.get("capacity") is not None:
        rules.check_capacity(fields["capacity"], event.participations.count())


def delete_draft(event_id: int) -> None:
    """Delete a DRAFT event; raises EditRefused when it is no longer a draft."""
    deleted, _ = Event.objects.filter(pk=event_id, status=Status.DRAFT).delete()
    if not deleted:
        if Event.objects.filter(pk=event_id).exists():
            raise errors.EditRefused("Only DRAFT events can be deleted; cancel it instead.")
        raise Event.DoesNotExist(f"Event {event_id} does not exist.")


def _check_fields(fields: dict[str, Any]) -> None:
    unknown = set(fields).difference(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"not editable: {', '.join(sorted(unknown))}")
