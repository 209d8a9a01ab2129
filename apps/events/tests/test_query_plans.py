"""The indexes serve the queries they were made for: EXPLAIN on PostgreSQL, with statistics.

Plans depend on the table's statistics, so each test loads enough rows and runs ANALYZE; at a few
rows PostgreSQL rightly prefers reading the table. The figures at 1,000,000 events are in
bench/BENCHMARKS.md and in migration 0003's docstring.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps.events import lifecycle, selectors
from apps.events.models import Event
from apps.events.tests.factories import UserFactory

pytestmark = pytest.mark.django_db
Status = Event.EventStatus
ROWS = 40_000


@pytest.fixture
def many_events() -> None:
    organizer = UserFactory.create()
    now = timezone.now()
    statuses = [Status.CONFIRMED, Status.ONGOING, Status.COMPLETED, Status.DRAFT]
    Event.objects.bulk_create(
        Event(
            title=f"Concert number {i}",
            organizer=organizer,
            start_date=now + timedelta(minutes=i),
            end_date=now + timedelta(minutes=i, hours=2),
            status=statuses[i % len(statuses)],
        )
        for i in range(ROWS)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE events_event")


def explain(sql: str, params: Any) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def plan(queryset: QuerySet[Event]) -> str:
    return explain(*queryset.query.sql_with_params())


def test_a_rare_title_search_reads_the_trigram_index(many_events: None) -> None:
    search = selectors.discoverable().filter(title__icontains="number 4321")[:21]
    explained = plan(search)
    assert "event_title_trgm_idx" in explained, explained
    assert [e.title for e in search] == ["Concert number 4321"]


def test_the_discovery_page_walks_its_index_in_order_without_sorting(many_events: None) -> None:
    explained = plan(selectors.discovery()[:21])
    assert "event_discovery_idx" in explained, explained
    assert "Sort" not in explained, explained


@pytest.fixture
def a_past_full_of_completed_events() -> list[int]:
    """What a platform looks like after a while: most events COMPLETED in the past, the active
    ones in the future, and a few that have just ended. The statistics then guess thousands of
    ended active events (the share of past end dates times the share of active statuses,
    independently) where there are 20. Returns the ids of those 20."""
    organizer = UserFactory.create()
    now = timezone.now()
    Event.objects.bulk_create(
        Event(
            title=f"Concert number {i}",
            organizer=organizer,
            start_date=now + timedelta(minutes=i if active else -i, hours=-3),
            end_date=now + timedelta(minutes=i if active else -i, hours=-1),
            status=(Status.ONGOING if i % 4 else Status.CONFIRMED) if active else Status.COMPLETED,
        )
        for i in range(1, ROWS)
        for active in [i % 2 == 0]
        # The active ones end in the future: an hour and more from now.
        if not active or i > 120
    )
    ended = Event.objects.bulk_create(
        Event(
            title=f"Just over {i}",
            organizer=organizer,
            start_date=now - timedelta(hours=2),
            end_date=now - timedelta(seconds=i + 1),
            status=Status.ONGOING,
        )
        for i in range(20)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE events_event")
    return [event.pk for event in ended]


def test_the_sweep_reaches_the_events_it_moves_by_key_whatever_the_statistics_guess(
    a_past_full_of_completed_events: list[int],
) -> None:
    """The planner guessed thousands of due rows and hashed the whole table once per join (at
    1,000,000 events, 600 ms of a 770 ms sweep of 1,000 rows); the moved rows are now reached
    through the primary key, so the table is never read whole."""
    seen: list[tuple[str, list[Any]]] = []

    def record(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        seen.append((sql, list(params or [])))
        return execute(sql, params, many, context)

    with transaction.atomic():
        with connection.execute_wrapper(record):
            moved = lifecycle.complete_ended()
        assert sorted(change.event_id for change in moved) == a_past_full_of_completed_events
        [(statement, params)] = [entry for entry in seen if "UPDATE" in entry[0]]
        explained = explain(statement, params)
        transaction.set_rollback(True)
    # The joins name the table (e, event, event_1); the scan that finds the due rows does not,
    # and reading the table there is the planner's fair choice at 25 % of this table guessed due.
    assert re.findall(r"Seq Scan on events_event (\w+)", explained) == [], explained
    assert explained.count("events_event_pkey") == 3, explained
