"""The one statement that creates deliveries: INSERT ... SELECT ... ON CONFLICT DO NOTHING.

Used when someone joins, when a rule is added, when an event is cancelled (its notices) and by
the sender's safety net (participations written around the domain, e.g. a bulk import), so a
delivery exists once per rule and participant however many of these meet.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django.db.models import CharField, F, Q, QuerySet, Value

from apps.events.models import Delivery, Event, MessageRule

Kind = MessageRule.Kind
Status = Event.EventStatus


def creatable(at: datetime) -> Q:
    """Rules whose deliveries may still be made at `at` (on MessageRule): a reminder until the
    event starts, a follow-up while the event runs or after it completed."""
    return Q(kind=Kind.REMINDER, event__status=Status.CONFIRMED, event__start_date__gt=at) | Q(
        kind=Kind.FOLLOW_UP,
        event__status__in=[Status.CONFIRMED, Status.ONGOING, Status.COMPLETED, Status.ARCHIVED],
    )


def insert_for(rules: QuerySet[MessageRule], participant: Q | None = None) -> int:
    """One delivery per rule in `rules` and participant (with an email address) of its event
    (`participant`: a further condition on `event__participations__...`); returns rows made."""
    # One filter() call, so the participations join is the one the SELECT list reads.
    joined = Q(event__participations__user__email__gt="") & (participant or Q())
    select_sql, params = (
        rules.filter(joined)
        .annotate(
            participant_id=F("event__participations__user_id"),
            pending=Value(Delivery.State.PENDING, output_field=CharField()),
        )
        .order_by()
        .values_list("id", "participant_id", "due_at", "pending")
        .query.sql_with_params()
    )
    table = Delivery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (rule_id, user_id, due_at, state) {select_sql} "
            "ON CONFLICT (rule_id, user_id) DO NOTHING",
            params,
        )
        return max(cursor.rowcount, 0)
