"""Bulk events in plain SQL: `total` events of which exactly `due` are past their end."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import User
from django.db import connection

# Out of every 10 events: 1 due (CONFIRMED/ONGOING, ended), 4 upcoming or running (discovery),
# 3 COMPLETED, 1 DRAFT, 1 CANCELLED. `due` may be set apart from that mix.
LOAD_SQL = """
INSERT INTO events_event
    (title, description, venue, organizer_id, start_date, end_date, capacity, status,
     created_at, updated_at, timezone, dates_revision)
SELECT
    'Event ' || g, '', 'Bench Hall', %(organizer)s,
    CASE WHEN g <= %(due)s THEN %(now)s - interval '3 hours' - (g %% 1000) * interval '1 minute'
         WHEN g %% 9 IN (0, 1, 2) THEN %(now)s - interval '30 days' - (g %% 500) * interval '1 hour'
         ELSE %(now)s + interval '1 hour' + (g %% 5000) * interval '1 hour' END,
    CASE WHEN g <= %(due)s THEN %(now)s - interval '1 minute' - (g %% 1000) * interval '1 minute'
         WHEN g %% 9 IN (0, 1, 2) THEN %(now)s - interval '29 days' - (g %% 500) * interval '1 hour'
         ELSE %(now)s + interval '3 hours' + (g %% 5000) * interval '1 hour' END,
    NULL,
    CASE WHEN g <= %(due)s THEN (CASE WHEN g %% 2 = 0 THEN 'CONFIRMED' ELSE 'ONGOING' END)
         WHEN g %% 9 IN (0, 1, 2) THEN 'COMPLETED'
         WHEN g %% 9 = 3 THEN 'DRAFT'
         WHEN g %% 9 = 4 THEN 'CANCELLED'
         ELSE 'CONFIRMED' END,
    %(now)s, %(now)s, 'Europe/London', 0
FROM generate_series(1, %(total)s) AS g
"""


def bench_user() -> User:
    user, _ = User.objects.get_or_create(username="bench", defaults={"email": "b@example.com"})
    return user


def load_events(total: int, due: int, now: datetime) -> None:
    """Replace every event with `total` generated ones; analyse so plans are realistic."""
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE events_event, events_participation, events_eventstatuschange CASCADE"
        )
        cursor.execute(
            LOAD_SQL, {"organizer": bench_user().pk, "due": due, "total": total, "now": now}
        )
    vacuum()


def vacuum() -> None:
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE events_event")
        cursor.execute("VACUUM ANALYZE events_eventstatuschange")
