"""The event state machine and the sweeps (CONTRACT §2): plain typed functions, no Celery.

Every transition, manual or swept, writes one `EventStatusChange` row in the same transaction as
the status change, and announces itself only after that transaction commits (`effects`).
Sweeps are set-based: one statement moves every due event and writes its audit rows, whatever
the number of due events, and a row locked by a concurrent sweep is skipped, never done twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.events import effects, rules
from apps.events.models import Event, EventStatusChange

Status = Event.EventStatus
Source = EventStatusChange.Source


def now() -> datetime:
    """The one clock of Eventide: tests move it with time-machine."""
    return timezone.now()


class InvalidTransition(rules.Refused, ValidationError):  # type: ignore[misc]  # message is a str in both
    """A transition the state machine does not allow (409 in the API).

    A `rules.Refused` like every other refusal, and a ValidationError as CONTRACT §2 says.
    """

    def __init__(self, event: Event, to_status: str, reason: str) -> None:
        self.event = event
        self.from_status = event.status
        self.to_status = to_status
        self.reason = reason
        super().__init__(
            f"Cannot move event {event.pk} from {event.status} to {to_status}: {reason}"
        )


@dataclass(frozen=True)
class Transition:
    event_id: int
    from_status: str
    to_status: str
    at: datetime


# Transitions a person may make, keyed by action name: (allowed from, to).
MANUAL_TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "confirm": (frozenset({Status.DRAFT}), Status.CONFIRMED),
    "complete": (frozenset({Status.CONFIRMED, Status.ONGOING}), Status.COMPLETED),
    "cancel": (frozenset({Status.DRAFT, Status.CONFIRMED, Status.ONGOING}), Status.CANCELLED),
}

# Every edge of the state machine, manual or automatic.
ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {(src, dst) for sources, dst in MANUAL_TRANSITIONS.values() for src in sources}
    | {
        (Status.CONFIRMED, Status.ONGOING),
        (Status.CONFIRMED, Status.COMPLETED),
        (Status.ONGOING, Status.COMPLETED),
        (Status.COMPLETED, Status.ARCHIVED),
    }
)


def can_transition(from_status: str, to_status: str) -> bool:
    return (from_status, to_status) in ALLOWED


# --- manual transitions ------------------------------------------------------------------------


def _precondition(action: str, event: Event, at: datetime) -> str | None:
    """Why `action` may not happen now, or None when it may."""
    if action == "confirm" and event.start_date <= at:
        return "start_date must be in the future to confirm."
    if action == "complete" and event.start_date > at:
        return "the event has not started yet."
    return None


def _manual(action: str, event_id: int, *, actor: Any = None, source: str = Source.API) -> Event:
    sources, to_status = MANUAL_TRANSITIONS[action]
    with transaction.atomic():
        event = Event.objects.select_for_update().get(pk=event_id)
        at = now()
        if event.status not in sources:
            raise InvalidTransition(
                event, to_status, f"{action} is not allowed from {event.status}."
            )
        reason = _precondition(action, event, at)
        if reason:
            raise InvalidTransition(event, to_status, reason)
        change = Transition(event.pk, event.status, to_status, at)
        event.status = to_status
        fields = ["status", "updated_at"]
        if to_status == Status.COMPLETED:
            event.completed_at = at
            fields.append("completed_at")
        event.save(update_fields=fields)
        EventStatusChange.objects.create(
            event=event,
            from_status=change.from_status,
            to_status=to_status,
            at=at,
            actor=actor if getattr(actor, "pk", None) else None,
            source=source,
        )
        effects.announce_after_commit([change])
    return event


def confirm(event_id: int, *, actor: Any = None, source: str = Source.API) -> Event:
    """DRAFT → CONFIRMED, by the organizer, while start_date is in the future."""
    return _manual("confirm", event_id, actor=actor, source=source)


def cancel(event_id: int, *, actor: Any = None, source: str = Source.API) -> Event:
    """DRAFT/CONFIRMED/ONGOING → CANCELLED, by the organizer, any time."""
    return _manual("cancel", event_id, actor=actor, source=source)


def complete(event_id: int, *, actor: Any = None, source: str = Source.API) -> Event:
    """CONFIRMED/ONGOING → COMPLETED, by the organizer, once the event has started."""
    return _manual("complete", event_id, actor=actor, source=source)


# --- sweeps ------------------------------------------------------------------------------------


def _sweep(due: Q, to_status: str, at: datetime, extra: dict[str, datetime]) -> list[Transition]:
    """Move every event matching `due` to `to_status`, with one audit row each.

    On PostgreSQL this is one statement (atomic on its own, one round trip): a data-modifying
    CTE locks the due rows with SKIP LOCKED, so two sweeps running at once split the rows between
    them and none is changed twice. Elsewhere (the SQLite of `make dev`, which serialises
    writers) the same happens in three statements inside a transaction.
    """
    if connection.vendor == "postgresql":
        changes = _sweep_postgresql(due, to_status, at, extra)
    else:
        with transaction.atomic():
            changes = _sweep_portable(due, to_status, at, extra)
    effects.push_after_commit(changes)
    return changes


def _due_rows(due: Q) -> QuerySet[Event]:
    return Event.objects.filter(due).order_by()


def _sweep_postgresql(
    due: Q, to_status: str, at: datetime, extra: dict[str, datetime]
) -> list[Transition]:
    select_sql, select_params = _due_rows(due).values_list("id", "status").query.sql_with_params()
    # Written out rather than select_for_update(), which Django refuses outside a transaction:
    # the statement below is its own transaction.
    select_sql += " FOR UPDATE SKIP LOCKED"
    event_table = Event._meta.db_table
    change_table = EventStatusChange._meta.db_table
    assignments = ", ".join(f"{column} = %s" for column in ["status", "updated_at", *extra])
    sql = f"""
        WITH due(id, status) AS ({select_sql}),
        moved AS (
            UPDATE {event_table} AS e SET {assignments}
            FROM due WHERE e.id = due.id
            RETURNING e.id, due.status AS from_status
        ),
        audit AS (
            INSERT INTO {change_table} (event_id, from_status, to_status, at, actor_id, source)
            SELECT id, from_status, %s, %s, NULL, %s FROM moved
        )
        SELECT id, from_status FROM moved
    """
    params = [*select_params, to_status, at, *extra.values(), to_status, at, Source.TASK]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [Transition(event_id, from_status, to_status, at) for event_id, from_status in rows]


def _sweep_portable(
    due: Q, to_status: str, at: datetime, extra: dict[str, datetime]
) -> list[Transition]:
    rows = list(_due_rows(due).select_for_update(skip_locked=True).values_list("id", "status"))
    ids = [event_id for event_id, _ in rows]
    Event.objects.filter(due, id__in=ids).update(status=to_status, updated_at=at, **extra)
    EventStatusChange.objects.bulk_create(
        EventStatusChange(
            event_id=event_id,
            from_status=from_status,
            to_status=to_status,
            at=at,
            source=Source.TASK,
        )
        for event_id, from_status in rows
    )
    return [Transition(event_id, from_status, to_status, at) for event_id, from_status in rows]


def ended_q(at: datetime) -> Q:
    """The seed's query: CONFIRMED or ONGOING, end_date set and strictly in the past."""
    return Q(status__in=Event.ACTIVE_STATUSES, end_date__isnull=False, end_date__lt=at)


def started_q(at: datetime) -> Q:
    return Q(status=Status.CONFIRMED, start_date__lte=at)


def archivable_q(at: datetime) -> Q:
    return Q(status=Status.COMPLETED, end_date__lt=at - timedelta(days=settings.ARCHIVE_AFTER_DAYS))


def complete_ended(at: datetime | None = None) -> list[Transition]:
    """CONFIRMED/ONGOING events whose end_date has passed → COMPLETED."""
    at = at or now()
    return _sweep(ended_q(at), Status.COMPLETED, at, {"completed_at": at})


def start_started(at: datetime | None = None) -> list[Transition]:
    """Started CONFIRMED events → ONGOING; those already over go straight to COMPLETED."""
    at = at or now()
    # Completing first means an event already over never passes through ONGOING.
    completed = complete_ended(at)
    started = _sweep(started_q(at), Status.ONGOING, at, {})
    return completed + started


def archive_completed(at: datetime | None = None) -> list[Transition]:
    """COMPLETED events whose end_date is older than ARCHIVE_AFTER_DAYS → ARCHIVED."""
    at = at or now()
    return _sweep(archivable_q(at), Status.ARCHIVED, at, {"archived_at": at})


SWEEPS: dict[str, Callable[[datetime | None], list[Transition]]] = {
    "complete": complete_ended,
    "start": start_started,
    "archive": archive_completed,
}
