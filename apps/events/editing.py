"""Creating, editing and deleting events (CONTRACT §4): which statuses allow what.

Status itself never changes here: that is `lifecycle`'s job. An event can be edited until it is
over (COMPLETED, CANCELLED, ARCHIVED) and deleted only while it is a DRAFT.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from apps.events import effects
from apps.events.models import Event

Status = Event.EventStatus

EDITABLE_FIELDS = ("title", "description", "venue", "start_date", "end_date", "capacity")
FINISHED_STATUSES = frozenset({Status.COMPLETED, Status.CANCELLED, Status.ARCHIVED})
# Moving a date moves the next due moment: the wake-up must be rescheduled.
DATE_FIELDS = frozenset({"start_date", "end_date"})


class EditRefused(Exception):
    """The event's status does not allow this change (409 in the API)."""


def can_edit(event: Event) -> bool:
    return event.status not in FINISHED_STATUSES


def create_event(organizer: Any, **fields: Any) -> Event:
    """A new DRAFT event organized by `organizer`."""
    _check_fields(fields)
    return Event.objects.create(organizer=organizer, status=Status.DRAFT, **fields)


def update_event(event_id: int, **fields: Any) -> Event:
    """Change an event's details while it is not finished; raises EditRefused otherwise."""
    _check_fields(fields)
    with transaction.atomic():
        # Locked so a concurrent transition cannot finish the event between the check and the write.
        event = Event.objects.select_for_update().get(pk=event_id)
        if not can_edit(event):
            raise EditRefused(f"Event is {event.status}; finished events cannot be edited.")
        for name, value in fields.items():
            setattr(event, name, value)
        event.save(update_fields=[*fields, "updated_at"])
        if DATE_FIELDS & fields.keys():
            effects.reschedule_after_commit()
    return event


def delete_draft(event_id: int) -> None:
    """Delete a DRAFT event; raises EditRefused when it is no longer a draft."""
    deleted, _ = Event.objects.filter(pk=event_id, status=Status.DRAFT).delete()
    if not deleted:
        if Event.objects.filter(pk=event_id).exists():
            raise EditRefused("Only DRAFT events can be deleted; cancel it instead.")
        raise Event.DoesNotExist(f"Event {event_id} does not exist.")


def _check_fields(fields: dict[str, Any]) -> None:
    unknown = set(fields).difference(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"not editable: {', '.join(sorted(unknown))}")
