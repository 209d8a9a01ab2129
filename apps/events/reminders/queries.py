"""Which reminders are due: the queries, and the one statement that creates the missing rows.

Rows are created lazily: each run inserts a `Reminder` for every participation of an event that
has entered its reminder window (one INSERT ... SELECT ... ON CONFLICT DO NOTHING), so joining
after the window opened still gets one, and nothing needs to happen at join time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import DateTimeField, Exists, Min, OuterRef, QuerySet, Value

from apps.events import clock
from apps.events.models import Event, Participation, Reminder

Status = Event.EventStatus


def lead_time() -> timedelta:
    return timedelta(hours=settings.REMINDER_LEAD_HOURS)


def due_participations(at: datetime) -> QuerySet[Participation]:
    """Participations whose event is CONFIRMED and starts within the lead time after `at`."""
    return (
        Participation.objects.filter(
            event__status=Status.CONFIRMED,
            event__start_date__gt=at,
            event__start_date__lte=at + lead_time(),
        )
        .exclude(user__email="")
        .order_by()
    )


def _reminder_exists() -> Exists:
    return Exists(
        Reminder.objects.filter(event_id=OuterRef("event_id"), user_id=OuterRef("user_id"))
    )


def pending(at: datetime) -> QuerySet[Reminder]:
    """Unsent reminders that are still due: event still CONFIRMED, in its window, user still in."""
    still_joined = Exists(
        Participation.objects.filter(event_id=OuterRef("event_id"), user_id=OuterRef("user_id"))
    )
    return Reminder.objects.filter(
        still_joined,
        sent_at__isnull=True,
        event__status=Status.CONFIRMED,
        event__start_date__gt=at,
        event__start_date__lte=at + lead_time(),
    )


def create_due(at: datetime | None = None) -> int:
    """Create the missing reminder rows of every due participation, in one statement."""
    at = at or clock.now()
    select_sql, params = (
        due_participations(at)
        .annotate(created=Value(at, output_field=DateTimeField()))
        .values_list("event_id", "user_id", "created")
        .query.sql_with_params()
    )
    table = Reminder._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (event_id, user_id, created_at) {select_sql} "
            "ON CONFLICT (event_id, user_id) DO NOTHING",
            params,
        )
        return max(cursor.rowcount, 0)


def next_due(at: datetime) -> datetime | None:
    """When reminders are next due: `at` if a due participation has no row yet, else the moment
    the next event with participants enters its window."""
    if due_participations(at).filter(~_reminder_exists()).exists():
        return at
    with_participants = Exists(
        Participation.objects.filter(event_id=OuterRef("pk")).exclude(user__email="")
    )
    first_start = Event.objects.filter(
        with_participants, status=Status.CONFIRMED, start_date__gt=at + lead_time()
    ).aggregate(first=Min("start_date"))["first"]
    return first_start - lead_time() if first_start else None
