"""The production Celery app plus the bench's baseline tasks (`celery -A bench.celery_app`)."""

from __future__ import annotations

from django.db import connection

from apps.events import clock
from core.celery import app

# What the baseline's audit rows say they came from: the sweeps write "task", so an event that a
# wake-up completed instead of its own countdown task is told apart (the column has no CHECK).
BASELINE_SOURCE = "bench"

# One event → COMPLETED if still active, with its audit row, in one statement (autocommit).
COMPLETE_ONE_SQL = """
WITH old AS (
    SELECT id, status FROM events_event
    WHERE id = %(id)s AND status IN ('CONFIRMED', 'ONGOING')
    FOR UPDATE
), moved AS (
    UPDATE events_event AS e SET status = 'COMPLETED', completed_at = %(at)s, updated_at = %(at)s
    FROM old WHERE e.id = old.id
    RETURNING e.id, old.status AS from_status
)
INSERT INTO events_eventstatuschange (event_id, from_status, to_status, at, source)
SELECT id, from_status, 'COMPLETED', %(at)s, %(source)s FROM moved
"""


@app.task(name="bench.noop")
def noop() -> int:
    """Does nothing and returns 0: what dispatch and result storage cost on their own."""
    return 0


# ignore_result: the common way need not store 10,000 results; storing them (django-db) would
# only make the baseline dearer.
@app.task(name="bench.complete_one", ignore_result=True)
def complete_one(event_id: int) -> int:
    """The common way to end events on time: one countdown task per event, `eta=end_date`,
    completing that one event if it is still active. Returns 1 if it completed it."""
    with connection.cursor() as cursor:
        cursor.execute(
            COMPLETE_ONE_SQL, {"id": event_id, "at": clock.now(), "source": BASELINE_SOURCE}
        )
        return cursor.rowcount


__all__ = ["BASELINE_SOURCE", "app", "complete_one", "noop"]
