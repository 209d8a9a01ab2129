"""The database's dialect, asked one way, and the statements written out for PostgreSQL.

Production and the test suite run on PostgreSQL; the SQLite file of `make dev` gets portable
equivalents (it serialises writers, so it needs no row locks). Every caller that cares asks
`is_postgresql()`, nothing else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection


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
) -> tuple[str, list[Any]]:
    """One statement that moves the rows `due_sql` selects (id, status) and writes their audit;
    it returns (id, from_status, start_date, end_date) of each moved row.

    A data-modifying CTE locks the due rows with SKIP LOCKED, so two sweeps running at once split
    the rows between them and none is changed twice; it is atomic on its own (one round trip).
    Written out rather than select_for_update(), which Django refuses outside a transaction.
    """
    assignments = ", ".join(f"{column} = %s" for column in ["status", "updated_at", *extra])
    # Table and column names come from the models (extra's keys are the lifecycle's literal
    # column names), due_sql is compiled by the ORM; every value is a parameter.
    sql = f"""
        WITH due(id, status) AS ({due_sql} FOR UPDATE SKIP LOCKED),
        moved AS (
            UPDATE {event_table} AS e SET {assignments}
            FROM due WHERE e.id = due.id
            RETURNING e.id, due.status AS from_status, e.start_date, e.end_date
        ),
        audit AS (
            INSERT INTO {change_table} (event_id, from_status, to_status, at, actor_id, source)
            SELECT id, from_status, %s, %s, NULL, %s FROM moved
        )
        SELECT id, from_status, start_date, end_date FROM moved
    """  # noqa: S608
    params = [*due_params, to_status, at, *extra.values(), to_status, at, source]
    return sql, params
