"""Joining and leaving events: idempotent, only while the event is open, within capacity.

Both are refused on an event that is not CONFIRMED/ONGOING, for everyone, including someone who
joined before: a DRAFT is not open yet, and once an event is over (COMPLETED, CANCELLED,
ARCHIVED) its participants are its record (reminders, follow-ups, retention), not a choice.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from apps.events import effects, errors, rules
from apps.events.messages import configuring as messages
from apps.events.models import Event, Participation


def join(event_id: int, user: User) -> Participation:
    """Join a CONFIRMED or ONGOING event; joining twice returns the existing participation."""
    with transaction.atomic():
        # Lock the event row so two last-seat joins cannot both pass the capacity check.
        event = Event.objects.select_for_update().get(pk=event_id)
        if event.status not in Event.ACTIVE_STATUSES:
            raise errors.ParticipationRefused(
                f"Event is {event.status}; only open events can be joined."
            )
        existing = Participation.objects.filter(event=event, user=user).first()
        if existing is not None:
            return existing
        rules.check_seat_left(event.capacity, event.participations.count())
        if event.status == Event.EventStatus.CONFIRMED:
            # A new participant may be due a reminder now, or bring the next one forward.
            effects.reschedule_after_commit(event.pk)
        try:
            with transaction.atomic():
                joined = Participation.objects.create(event=event, user=user)
        except IntegrityError:
            return Participation.objects.get(event=event, user=user)
        # A late joiner's reminder is due at once (sent while the event has not started).
        messages.add_participant(event, user)
        return joined


def leave(event_id: int, user: User) -> bool:
    """Leave a CONFIRMED or ONGOING event; returns whether a participation was removed."""
    with transaction.atomic():
        event = Event.objects.select_for_update().get(pk=event_id)
        if event.status not in Event.ACTIVE_STATUSES:
            raise errors.ParticipationRefused(
                f"Event is {event.status}; only open events can be left."
            )
        deleted, _ = Participation.objects.filter(event=event, user=user).delete()
        if deleted:
            messages.remove_participant(event, user)
    return deleted > 0
