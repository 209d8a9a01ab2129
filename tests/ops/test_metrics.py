"""/metrics (CONTRACT §8): Prometheus text from the web and worker processes, behind a token."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta

import httpx
import pytest
import yaml
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from apps.events import clock, scheduling
from apps.events.models import Event
from apps.events.tests.factories import EventFactory, UserFactory
from core import heartbeat, metrics
from tests.support import processes
from tests.support.auth import token_for

logger = logging.getLogger(__name__)
pytestmark = pytest.mark.django_db
Status = Event.EventStatus


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """{(sample name, labels): value} of a Prometheus text exposition."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(parsed: dict, name: str, **labels: str) -> float | None:
    return parsed.get((name, frozenset(labels.items())))


def test_loopback_may_scrape_when_no_token_is_set(client: Client) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    parsed = samples(response.content.decode())
    assert value(parsed, "eventide_overdue_seconds") == 0.0
    assert value(parsed, "eventide_scheduler_stale") == 0.0
    assert value(parsed, "eventide_celery_queue_length", queue="celery") is not None


def test_another_address_is_refused_when_no_token_is_set(client: Client) -> None:
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 403


@override_settings(METRICS_TOKEN="s3cret-metrics")
def test_with_a_token_set_only_that_bearer_token_may_scrape(client: Client) -> None:
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Token s3cret-metrics").status_code == 403
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics", REMOTE_ADDR="192.0.2.7")
    assert ok.status_code == 200


def test_overdue_is_how_late_the_earliest_unswept_start_or_end_is() -> None:
    now = clock.now()
    assert metrics.most_overdue(now) == 0.0
    EventFactory.create(start_date=now + timedelta(minutes=1))  # not due yet
    assert metrics.most_overdue(now) == 0.0
    EventFactory.create(start_date=now - timedelta(seconds=30))
    assert metrics.most_overdue(now) == 30.0
    EventFactory.create(
        status=Status.ONGOING,
        start_date=now - timedelta(hours=1),
        end_date=now - timedelta(seconds=90),
    )
    assert metrics.most_overdue(now) == 90.0
    # A COMPLETED event is not due for anything on time (archiving runs daily).
    EventFactory.create(
        status=Status.COMPLETED,
        start_date=now - timedelta(days=400),
        end_date=now - timedelta(days=399),
    )
    assert metrics.most_overdue(now) == 90.0


def test_overdue_reads_the_first_entry_of_each_partial_index() -> None:
    """At 40,000 events (with statistics), each MIN is an index probe, not a scan. The plan:

    Result
      InitPlan 1
        ->  Limit
              ->  Index Only Scan using event_confirmed_start_idx on events_event
                    Index Cond: (start_date IS NOT NULL)
    """
    organizer = UserFactory.create()
    now = clock.now()
    statuses = [Status.CONFIRMED, Status.ONGOING, Status.COMPLETED, Status.DRAFT]
    Event.objects.bulk_create(
        Event(
            title=f"e{i}",
            organizer=organizer,
            start_date=now + timedelta(minutes=i),
            end_date=now + timedelta(minutes=i, hours=2),
            status=statuses[i % len(statuses)],
        )
        for i in range(40_000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE events_event")
    with CaptureQueriesContext(connection) as queries:
        metrics.most_overdue(now)
    plans = []
    with connection.cursor() as cursor:
        for query in queries.captured_queries:
            cursor.execute(f"EXPLAIN {query['sql']}")
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    start_plan, end_plan = plans
    assert "Index Only Scan using event_confirmed_start_idx" in start_plan, start_plan
    assert "Index Only Scan using event_active_end_idx" in end_plan, end_plan
    for plan in plans:
        assert "Seq Scan" not in plan, plan
        assert "Limit" in plan, plan


def scrape_text(base: str) -> str:
    response = httpx.get(
        f"{base}/metrics", headers={"Authorization": "Bearer scrape-me"}, timeout=30
    )
    assert response.status_code == 200
    return response.text


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_a_lifecycle_run_is_counted_by_source_from_the_web_and_the_worker(
    transactional_db: None, purged_broker: None, tmp_path: object
) -> None:
    """Daphne (manual confirm and cancel over the API) and a worker (the wake-ups' sweeps) write
    to one PROMETHEUS_MULTIPROC_DIR; a scrape of Daphne sums both."""
    scheduling.forget()
    env = processes.child_env(PROMETHEUS_MULTIPROC_DIR=str(tmp_path), METRICS_TOKEN="scrape-me")
    port = processes.free_port()
    web = processes.daphne(env, port).start()
    worker = processes.worker(env).start()
    try:
        worker.wait_for_output("ready.", timeout=60)
        base = f"http://127.0.0.1:{port}"
        processes.wait_for(lambda: processes.port_open(port), timeout=60)
        organizer = UserFactory.create()
        api = {"Authorization": f"Token {token_for(organizer)}"}
        start = clock.now() + timedelta(seconds=4)
        timely = EventFactory.create(
            organizer=organizer,
            status=Status.DRAFT,
            start_date=start,
            end_date=start + timedelta(seconds=2),
        )
        dropped = EventFactory.create(organizer=organizer, status=Status.DRAFT)
        for event_id, action in (
            (timely.pk, "confirm"),
            (dropped.pk, "confirm"),
            (dropped.pk, "cancel"),
        ):
            answer = httpx.post(f"{base}/api/events/{event_id}/{action}/", headers=api, timeout=30)
            assert answer.status_code == 200, answer.text

        processes.wait_for(
            lambda: Event.objects.get(pk=timely.pk).status == Status.COMPLETED, timeout=90
        )

        def counted() -> dict | None:
            parsed = samples(scrape_text(base))
            done = value(
                parsed, "eventide_transitions_total", to_status="COMPLETED", source="automatic"
            )
            return parsed if done == 1.0 else None

        parsed = processes.wait_for(counted, timeout=30, interval=0.5)
        total = "eventide_transitions_total"
        assert value(parsed, total, to_status="CONFIRMED", source="manual") == 2.0
        assert value(parsed, total, to_status="CANCELLED", source="manual") == 1.0
        assert value(parsed, total, to_status="ONGOING", source="automatic") == 1.0
        lag = "eventide_transition_lag_seconds"
        for status in ("ONGOING", "COMPLETED"):
            assert value(parsed, f"{lag}_count", to_status=status) == 1.0
            assert value(parsed, f"{lag}_bucket", to_status=status, le="+Inf") == 1.0
            assert (value(parsed, f"{lag}_sum", to_status=status) or -1.0) >= 0.0
        assert value(parsed, "eventide_overdue_seconds") == 0.0

        refused = httpx.get(f"{base}/metrics", timeout=30)
        assert refused.status_code == 403
        assert "eventide_" not in refused.text
        excerpt = [line for line in scrape_text(base).splitlines() if line.startswith("eventide_")]
        logger.info("/metrics after the run:\n%s", "\n".join(excerpt))
    finally:
        worker.stop()
        web.stop()


SERIES = re.compile(r"eventide_\w+")


def exposed_names(text: str) -> set[str]:
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    return {
        family.name + suffix
        for family in text_string_to_metric_families(text)
        for suffix in ("", *suffixes.get(family.type, ()))
    }


def test_the_dashboard_and_the_alert_rules_parse_and_use_exposed_series(client: Client) -> None:
    heartbeat.record_tick()  # the heartbeat's age is exposed once beat has ticked
    exposed = exposed_names(client.get("/metrics").content.decode())
    dashboard = json.loads((processes.REPO / "deploy/grafana/eventide-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    rules = yaml.safe_load((processes.REPO / "deploy/prometheus/eventide-alerts.yaml").read_text())
    alerts = {rule["alert"]: rule["expr"] for rule in rules["groups"][0]["rules"]}
    assert set(alerts) == {
        "EventideTransitionsOverdue",
        "EventideSchedulerStale",
        "EventideWebhookFailuresRising",
    }
    used = {
        name for expr in [*exprs, *alerts.values()] for name in re.findall(r"eventide_\w+", expr)
    }
    assert len(exprs) >= 8
    assert used <= exposed, used - exposed
    deployment = (processes.REPO / "docs/DEPLOYMENT.md").read_text()
    for expr in alerts.values():
        assert expr in deployment
