"""Cost of the API's list pages over a large events table (in-process Django client, no HTTP).

    DATABASE_URL=postgres://... python bench/api_lists.py [--events 1000000]

Seeds the database named by DATABASE_URL (never a test database) with synthetic users, events
in every status and participations when it holds fewer events than asked, then prints the median
and p90 time and the query count of each list request, and the page SQL with participant_count
as a correlated subquery (what `selectors.with_counts` does) against a JOIN + GROUP BY.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import django

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count, QuerySet  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from knox.models import AuthToken  # noqa: E402

from apps.events import selectors  # noqa: E402
from apps.events.models import Event  # noqa: E402

SEED_SQL = """
INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email,
                       is_staff, is_active, date_joined)
SELECT '!', false, 'bench' || g, '', '', '', false, true, now() FROM generate_series(1, 1000) g
ON CONFLICT (username) DO NOTHING;
INSERT INTO events_event (title, description, venue, organizer_id, start_date, end_date,
                          capacity, status, created_at, updated_at)
SELECT 'Event ' || g, '', '', (SELECT min(id) FROM auth_user WHERE username LIKE 'bench%%')
       + (g %% 1000),
       now() + (g || ' minutes')::interval - interval '100 days',
       now() + (g || ' minutes')::interval - interval '100 days' + interval '2 hours', NULL,
       (ARRAY['DRAFT','CONFIRMED','ONGOING','COMPLETED','CANCELLED','ARCHIVED'])[1 + g %% 6],
       now(), now()
FROM generate_series(1, %(events)s) g;
INSERT INTO events_participation (event_id, user_id, joined_at)
SELECT e.id, (SELECT min(id) FROM auth_user WHERE username LIKE 'bench%%')
       + ((e.id * 7 + k) %% 1000), now()
FROM events_event e, generate_series(1, 3) k WHERE e.id %% 2 = 0
ON CONFLICT DO NOTHING;
ANALYZE;
"""


def timed(client: Client, url: str, extra: dict[str, Any], n: int = 30) -> tuple[float, float, int]:
    client.get(url, **extra)
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(url, **extra)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content[:200]
    with CaptureQueriesContext(connection) as queries:
        client.get(url, **extra)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9)], len(queries)


def sql_ms(queryset: QuerySet[Event], n: int = 20) -> float:
    sql, params = queryset.query.sql_with_params()
    times = []
    with connection.cursor() as cursor:
        for _ in range(n + 1):
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
            times.append(cursor.fetchone()[0][0]["Execution Time"])
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    assert not connection.settings_dict["NAME"].startswith("test_"), "not a test database"
    if Event.objects.count() < args.events:
        with connection.cursor() as cursor:
            cursor.execute(SEED_SQL, {"events": args.events})
    print(f"{Event.objects.count():,} events")

    client = Client(SERVER_NAME="localhost")
    user = get_user_model().objects.get(username="bench7")
    _, key = AuthToken.objects.create(user=user)
    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    next_page = client.get("/api/events/?page_size=20").json()["next"]
    for label, url, extra in [
        ("discovery page 1, 20", "/api/events/?page_size=20", {}),
        ("discovery page 1, 100", "/api/events/?page_size=100", {}),
        ("discovery next page (cursor)", next_page.replace("http://localhost", ""), {}),
        ("discovery ?q=Event 99999", "/api/events/?q=Event%2099999&page_size=20", {}),
        ("mine (token), 20", "/api/events/mine/?page_size=20", auth),
    ]:
        median, p90, queries = timed(client, url, extra)
        print(f"{label:30s} median {median:6.1f} ms  p90 {p90:6.1f} ms  queries {queries}")

    def page(queryset: QuerySet[Event]) -> QuerySet[Event]:
        return queryset.order_by("start_date", "id")[:21]

    subquery = page(selectors.with_counts(selectors.discoverable()))
    join = page(
        selectors.discoverable()
        .select_related("organizer")
        .annotate(participant_count=Count("participations", distinct=True))
    )
    print(f"page SQL, participant_count as correlated subquery: {sql_ms(subquery):.2f} ms")
    print(f"page SQL, participant_count as JOIN + GROUP BY:      {sql_ms(join):.2f} ms")


if __name__ == "__main__":
    main()
