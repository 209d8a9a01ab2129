"""The event state machine and the sweeps (CONTRACT §2): plain typed functions, no Celery.

Every transition, manual or swept, writes one `EventStatusChange` row in the same transaction as
the status change, and announces itself only after that transaction commits (`effects`).
Sweeps are set-based: one statement moves every due event and writes its audit rows, whatever
the number of due events, and a row locked by a concurrent sweep is skipped, never done twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from apps.events import clock, effects, sql, transitions
from apps.events.errors import InvalidTransition
from apps.events.messages import configuring as messages
from apps.events.models import Actor, Event, EventStatusChange
from apps.events.transitions import Transition
from apps.webhooks import outbox
from apps.webhooks.models import Endpoint, event_type

Status = Event.EventStatus
Source = EventStatusChange.Source


# --- manual transitions ------------------------------------------------------------------------


def _precondition(action: str, event: Event, at: datetime) -> str | None:
    """Why `action` may not happen now, or None when it may."""
    sources, _ = transitions.MANUAL[action]
    if event.status not in sources:
        return f"{action} is not allowed from {event.status}."
    if action == "confirm" and event.start_date <= at:
        return "start_date must be in the future to confirm."
    if action == "complete" and event.start_date > at:
        return "the event has not started yet."
    return None


def available_actions(event: Event, user: Actor, at: datetime | None = None) -> list[str]:
    """The transitions `user` may make on `event` now: the organizer's, in the order of MANUAL."""
    if user is None or not user.is_authenticated or event.organizer_id != user.pk:
        return []
    at = at or clock.now()
    return [action for action in transitions.MANUAL if _precondition(action, event, at) is None]


def _manual(action: str, event_id: int, *, actor: Actor = None, source: str = Source.API) -> Event:
    _, to_status = transitions.MANUAL[action]
    with transaction.atomic():
        event = Event.objects.select_for_update().get(pk=event_id)
        at = clock.now()
        reason = _precondition(action, event, at)
        if reason:
            raise InvalidTransition(event, to_status, reason)
        from_status = event.status
        event.status = to_status
        fields = ["status", "updated_at"]
        if to_status == Status.COMPLETED:
            event.completed_at = at
            fields.append("completed_at")
        event.save(update_fields=fields)
        row = EventStatusChange.objects.create(
            event=event,
            from_status=from_status,
            to_status=to_status,
            at=at,
            actor=actor if isinstance(actor, User) else None,
            source=source,
        )
        change = Transition(event.pk, from_status, to_status, at, row.pk)
        if outbox.record([change], {event.pk: event.organizer_id}):
            effects.relay_after_commit()
        if to_status == Status.CANCELLED:
            # Written in the transition's transaction: the notices cannot be lost, nor sent twice.
            messages.cancel_messages(event, at)
        effects.announce_after_commit([change])
    return event


def confirm(event_id: int, *, actor: Actor = None, source: str = Source.API) -> Event:
    """DRAFT → CONFIRMED, by the organizer, while start_date is in the future."""
    return _manual("confirm", event_id, actor=actor, source=source)


def cancel(event_id: int, *, actor: Actor = None, source: str = Source.API) -> Event:
    """DRAFT/CONFIRMED/ONGOING → CANCELLED, by the organizer, any time."""
    return _manual("cancel", event_id, actor=actor, source=source)


def complete(event_id: int, *, actor: Actor = None, source: str = Source.API) -> Event:
    """CONFIRMED/ONGOING → COMPLETED, by the organizer, once the event has started."""
    return _manual("complete", event_id, actor=actor, source=source)


# --- sweeps ------------------------------------------------------------------------------------


def _sweep(due: Q, to_status: str, at: datetime, extra: dict[str, datetime]) -> list[Transition]:
    """Move every event matching `due` to `to_status`, with one audit row each.

    On PostgreSQL one statement (`sql.sweep_statement`); elsewhere (the SQLite of `make dev`,
    which serialises writers) the same in three statements inside a transaction.
    """
    if sql.is_postgresql():
        changes, deliveries = _sweep_postgresql(due, to_status, at, extra)
    else:
        with transaction.atomic():
            changes, deliveries = _sweep_portable(due, to_status, at, extra)
    if deliveries:
        effects.relay_after_commit()
    effects.push_after_commit(changes)
    return changes


def _due_rows(due: Q) -> QuerySet[Event]:
    return Event.objects.filter(due).order_by()


def _sweep_postgresql(
    due: Q, to_status: str, at: datetime, extra: dict[str, datetime]
) -> tuple[list[Transition], int]:
    """The changes made, and the number of webhook deliveries written with them."""
    due_sql, due_params = _due_rows(due).values_list("id", "status").query.sql_with_params()
    statement, params = sql.sweep_statement(
        due_sql,
        due_params,
        to_status,
        at,
        extra,
        Source.TASK,
        event_table=Event._meta.db_table,
        change_table=EventStatusChange._meta.db_table,
        outbox=sql.Outbox(
            delivery_table=outbox.DELIVERY_TABLE,
            endpoint_table=outbox.ENDPOINT_TABLE,
            delivery_type=event_type(to_status),
            subscribed=outbox.subscription_filter(to_status),
        ),
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    changes = _moved(
        [(event, frm, change, start, end) for event, frm, change, _, start, end in rows],
        to_status,
        at,
    )
    return changes, rows[0][3] if rows else 0


def _moved(
    rows: list[tuple[int, str, int, datetime, datetime | None]], to_status: str, at: datetime
) -> list[Transition]:
    """Transitions of the moved (event id, from status, change id, start_date, end_date) rows,
    each with its change id and the moment it was due."""
    return [
        Transition(
            event_id,
            from_status,
            to_status,
            at,
            change_id,
            due=start if to_status == Status.ONGOING else end,
        )
        for event_id, from_status, change_id, start, end in rows
    ]


def _sweep_portable(
    due: Q, to_status: str, at: datetime, extra: dict[str, datetime]
) -> tuple[list[Transition], int]:
    # Whether the organizer has an active endpoint comes with the due rows: without any, the
    # sweep costs no query more than before webhooks existed.
    hooked = Exists(Endpoint.objects.filter(owner_id=OuterRef("organizer_id"), is_active=True))
    rows = list(
        _due_rows(due)
        .select_for_update(skip_locked=True)
        .values_list("id", "status", "organizer_id", hooked, "start_date", "end_date")
    )
    ids = [event_id for event_id, *_ in rows]
    Event.objects.filter(due, id__in=ids).update(status=to_status, updated_at=at, **extra)
    audit = EventStatusChange.objects.bulk_create(
        EventStatusChange(
            event_id=event_id,
            from_status=from_status,
            to_status=to_status,
            at=at,
            source=Source.TASK,
        )
        for event_id, from_status, *_ in rows
    )
    dates = {event_id: (start, end) for event_id, _, _, _, start, end in rows}
    changes = _moved(
        [(row.event_id, row.from_status, row.pk, *dates[row.event_id]) for row in audit],
        to_status,
        at,
    )
    organizer_of = {
        event_id: organizer for event_id, _, organizer, has_hooks, *_ in rows if has_hooks
    }
    hooked_changes = [change for change in changes if change.event_id in organizer_of]
    return changes, outbox.record(hooked_changes, organizer_of) if hooked_changes else 0


def ended_q(at: datetime) -> Q:
    """The seed's query: CONFIRMED or ONGOING, end_date set and strictly in the past."""
    sources = transitions.swept_from(Status.COMPLETED)
    return Q(status__in=sources, end_date__isnull=False, end_date__lt=at)


def started_q(at: datetime) -> Q:
    return Q(status__in=transitions.swept_from(Status.ONGOING), start_date__lte=at)


def archivable_q(at: datetime) -> Q:
    horizon = at - timedelta(days=settings.ARCHIVE_AFTER_DAYS)
    return Q(status__in=transitions.swept_from(Status.ARCHIVED), end_date__lt=horizon)


def complete_ended(at: datetime | None = None) -> list[Transition]:
    """CONFIRMED/ONGOING events whose end_date has passed → COMPLETED."""
    at = at or clock.now()
    return _sweep(ended_q(at), Status.COMPLETED, at, {"completed_at": at})


def start_started(at: datetime | None = None) -> list[Transition]:
    """Started CONFIRMED events → ONGOING; those already over go straight to COMPLETED."""
    at = at or clock.now()
    # Completing first means an event already over never passes through ONGOING.
    completed = complete_ended(at)
    started = _sweep(started_q(at), Status.ONGOING, at, {})
    return completed + started


def archive_completed(at: datetime | None = None) -> list[Transition]:
    """COMPLETED events whose end_date is older than ARCHIVE_AFTER_DAYS → ARCHIVED."""
    at = at or clock.now()
    return _sweep(archivable_q(at), Status.ARCHIVED, at, {"archived_at": at})
