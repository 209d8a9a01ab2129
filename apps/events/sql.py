"""The database's dialect, asked one way, and the statements written out for PostgreSQL.

Production and the test suite run on PostgreSQL; the SQLite file of `make dev` gets portable
equivalents (it serialises writers, so it needs no row locks). Every caller that cares asks
`is_postgresql()`, nothing else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection


@dataclass(frozen=True)
class Outbox:
    """Where a sweep writes its webhook deliveries, and which endpoints want them."""

    delivery_table: str
    endpoint_table: str
    delivery_type: str
    # JSON arrays, one of which an endpoint's event_types must contain.
    subscribed: tuple[str, str]


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def sweep_statement(
    due_sql: str,
    due_params: list[Any] | tuple[Any, ...],
    to_status: str,
    at: datetime,
    extra: dict[str, datetime],
    source: str,
    *,
    event_table: str,
    change_table: str,
    outbox: Outbox,
) -> tuple[str, list[Any]]:
    """One statement that moves the rows `due_sql` selects (id, status), writes their audit and
    their webhook deliveries, and returns (event id, from status, change id, deliveries written,
    start_date, end_date) for each moved row, in change id order (the dates give the moment each
    was due, for the lag metric).

    A data-modifying CTE locks the due rows with SKIP LOCKED, so two sweeps running at once split
    the rows between them and none is changed twice; it is atomic on its own (one round trip), so
    the deliveries commit with the transitions they announce (CONTRACT §9).
    Written out rather than select_for_update(), which Django refuses outside a transaction.

    The UPDATE finds its rows by primary key (`= ANY(ARRAY(SELECT id FROM due))`), not only by
    joining `due`: the statistics guess the due rows as the share of past end dates times the
    share of active statuses, independently, which on a table of finished events is thousands
    for a handful (151,000 for 1,007 at 1,000,000 events). On that guess PostgreSQL hashed the
    whole table for the UPDATE and for each join after it: 771 ms for the sweep of 1,007 rows,
    21 ms by key. An array of unknown length is guessed at 10 elements, so every join after it
    is an index probe, linear in the rows moved (the 100,000-row sweep got faster too).
    """
    assignments = ", ".join(f"{column} = %s" for column in ["status", "updated_at", *extra])
    # Table and column names come from the models (extra's keys are the lifecycle's literal
    # column names), due_sql is compiled by the ORM; every value is a parameter.
    sql = f"""
        WITH due(id, status) AS ({due_sql} FOR UPDATE SKIP LOCKED),
        moved AS (
            UPDATE {event_table} AS e SET {assignments}
            FROM due WHERE e.id = due.id AND e.id = ANY(ARRAY(SELECT id FROM due))
            RETURNING e.id, due.status AS from_status, e.start_date, e.end_date
        ),
        audit AS (
            INSERT INTO {change_table} (event_id, from_status, to_status, at, actor_id, source)
            SELECT id, from_status, %s, %s, NULL, %s FROM moved
            RETURNING id, event_id, from_status
        ),
        outbox AS (
            INSERT INTO {outbox.delivery_table} (endpoint_id, change_id, type, state, attempts,
                last_error, next_attempt_at, created_at, payload)
            SELECT endpoint.id, audit.id, %s, 'pending', 0, '', %s, %s, ''
            FROM audit
            -- The statement's snapshot: the row as it was before the UPDATE, same organizer.
            JOIN {event_table} AS event ON event.id = audit.event_id
            JOIN {outbox.endpoint_table} AS endpoint ON endpoint.owner_id = event.organizer_id
            WHERE endpoint.is_active
                AND (endpoint.event_types @> %s::jsonb OR endpoint.event_types @> %s::jsonb)
            RETURNING 1
        )
        SELECT audit.event_id, audit.from_status, audit.id, (SELECT count(*) FROM outbox),
            event.start_date, event.end_date
        FROM audit
        -- By primary key, as the outbox does; the sweep never changes the dates.
        JOIN {event_table} AS event ON event.id = audit.event_id
        ORDER BY audit.id
    """  # noqa: S608
    params = [
        *due_params,
        to_status,
        at,
        *extra.values(),
        to_status,
        at,
        source,
        outbox.delivery_type,
        at,
        at,
        *outbox.subscribed,
    ]
    return sql, params


def set_texts_statement(
    table: str, column: str, values: list[tuple[int, str]]
) -> tuple[str, list[Any]]:
    """One UPDATE giving each row (by id) its own text, from one JSON parameter.
    Django's bulk_update builds a CASE WHEN per row, which cost more than the sends it recorded;
    a text[] parameter is quoted element by element in Python (a regex per text), one JSON
    string is encoded and escaped in C."""
    sql = f"""
        UPDATE {table} AS t SET {column} = v.text
        FROM jsonb_to_recordset(%s::jsonb) AS v(id bigint, text text)
        WHERE t.id = v.id
    """  # noqa: S608
    return sql, [json.dumps([{"id": row_id, "text": text} for row_id, text in values])]
