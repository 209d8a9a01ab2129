"""The indexes serve the queries they were made for: EXPLAIN on PostgreSQL, with statistics.

Plans depend on the table's statistics, so each test loads enough rows and runs ANALYZE; at a few
rows PostgreSQL rightly prefers reading the table. The figures at 1,000,000 events are in
bench/BENCHMARKS.md and in migration 0003's docstring.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from apps.events import selectors
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


def plan(queryset: QuerySet[Event]) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_a_rare_title_search_reads_the_trigram_index(many_events: None) -> None:
    search = selectors.discoverable().filter(title__icontains="number 4321")[:21]
    explained = plan(search)
    assert "event_title_trgm_idx" in explained, explained
    assert [e.title for e in search] == ["Concert number 4321"]


def test_the_discovery_page_walks_its_index_in_order_without_sorting(many_events: None) -> None:
    explained = plan(selectors.with_counts(selectors.discoverable())[:21])
    assert "event_discovery_idx" in explained, explained
    assert "Sort" not in explained, explained
