"""`/metrics` in the Prometheus text format (CONTRACT §8), from every process of one host.

Counted where it happens, after commit: transitions by target status and source (`manual`, a
person's action; `automatic`, a sweep or wake-up), the lag of each automatic transition behind
its due moment (start_date for ONGOING, end_date for COMPLETED), reminder emails by state and
webhook deliveries by outcome. Read live at each scrape, by the scraping process: how overdue the
most overdue transition is, the depth of each Celery queue, and beat's heartbeat.

Several processes: the web processes and the worker's pool children each count in their own
memory. With `PROMETHEUS_MULTIPROC_DIR` set (to the same empty, writable directory for every
process of the host, before they start) prometheus-client writes the counts to files there and a
scrape of any web process sums them all (`prometheus_client.multiprocess`). Unset, a scrape shows
the one process it reaches (fine for `make dev`'s single web process, not for production).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.conf import settings
from django.db import connections
from django.db.models import Min
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from kombu.exceptions import ChannelError  # type: ignore[attr-defined]  # not in the stubs
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from apps.accounts.lockout import client_address
from apps.events import clock
from apps.events.models import Event
from apps.events.transitions import Transition
from core import heartbeat

logger = logging.getLogger(__name__)

# No `*_created` series: the multi-process mode has none, so one process alone should not either.
disable_created_metrics()  # type: ignore[no-untyped-call]

MANUAL = "manual"
AUTOMATIC = "automatic"

TRANSITIONS = Counter(
    "eventide_transitions",
    "Status transitions, by target status and source (manual: a person; automatic: a sweep).",
    ["to_status", "source"],
)
TRANSITION_LAG = Histogram(
    "eventide_transition_lag_seconds",
    "How long after its due moment (start_date, end_date) an automatic transition happened.",
    ["to_status"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
MESSAGES = Counter("eventide_messages", "Lifecycle emails, by state.", ["state"])
WEBHOOK_DELIVERIES = Counter(
    "eventide_webhook_deliveries", "Webhook delivery attempts, by outcome.", ["outcome"]
)

# The due moment of an automatic transition; ARCHIVED runs daily by design, it has no lag.
DUE_FIELD = {Event.EventStatus.ONGOING: "start_date", Event.EventStatus.COMPLETED: "end_date"}


def count_transitions(changes: Sequence[Transition], source: str) -> None:
    """After commit: count `changes`; for automatic ones, observe the lag behind `due`."""
    for change in changes:
        TRANSITIONS.labels(to_status=change.to_status, source=source).inc()
        if source == AUTOMATIC and change.due is not None and change.to_status in DUE_FIELD:
            lag = (change.at - change.due).total_seconds()
            TRANSITION_LAG.labels(to_status=change.to_status).observe(max(lag, 0.0))


def count_message(state: str) -> None:
    MESSAGES.labels(state=state).inc()


def count_webhook_delivery(outcome: str) -> None:
    WEBHOOK_DELIVERIES.labels(outcome=outcome).inc()


# --- read live at each scrape ------------------------------------------------------------------


def most_overdue(now: datetime | None = None) -> float:
    """Seconds since the earliest due moment no sweep has acted on yet; 0 when none.

    Each MIN reads the first entry of the partial index its sweep uses (an index probe, not a
    scan; tests/ops/test_metrics.py shows the plan): event_confirmed_start_idx for starts,
    event_active_end_idx for ends.
    """
    now = now or clock.now()
    first_start = Event.objects.filter(status=Event.EventStatus.CONFIRMED).aggregate(
        at=Min("start_date")
    )["at"]
    first_end = Event.objects.filter(status__in=Event.ACTIVE_STATUSES).aggregate(
        at=Min("end_date")
    )["at"]
    due = [at for at in (first_start, first_end) if at is not None and at <= now]
    return max(0.0, (now - min(due)).total_seconds()) if due else 0.0


def queue_depths() -> dict[str, int]:
    """Messages waiting in each Celery queue the workers consume (the default one if none set)."""
    from core.celery import app

    queues = app.amqp.queues  # type: ignore[attr-defined]  # missing from celery-types
    names = [queue.name for queue in queues.values()] or [app.conf.task_default_queue]
    depths = {}
    with app.connection_for_read() as conn:
        channel = conn.default_channel  # type: ignore[attr-defined]
        for name in names:
            try:
                depths[name] = channel.queue_declare(name, passive=True).message_count
            except ChannelError:  # not declared yet: no worker ever consumed it, nothing queued
                depths[name] = 0
    return depths


class LiveCollector(Collector):
    """The gauges read at scrape time. A failing source drops its series, never the scrape."""

    def collect(self) -> Iterable[Metric]:
        try:
            yield from self._database()
        except Exception:
            logger.warning("metrics: reading the database failed", exc_info=True)
        finally:
            connections["default"].close_if_unusable_or_obsolete()
        try:
            depth = GaugeMetricFamily(
                "eventide_celery_queue_length",
                "Messages waiting in a Celery queue.",
                labels=["queue"],
            )
            for name, count in queue_depths().items():
                depth.add_metric([name], count)
            yield depth
        except Exception:
            logger.warning("metrics: reading the broker's queues failed", exc_info=True)

    def _database(self) -> Iterable[Metric]:
        overdue = most_overdue()
        status = heartbeat.scheduler_status()
        yield GaugeMetricFamily(
            "eventide_overdue_seconds",
            "How late the most overdue start or end transition is now (0 when none).",
            value=overdue,
        )
        if status.age is not None:
            yield GaugeMetricFamily(
                "eventide_scheduler_heartbeat_age_seconds",
                "Seconds since celery beat last ticked.",
                value=status.age.total_seconds(),
            )
        yield GaugeMetricFamily(
            "eventide_scheduler_stale",
            "1 when beat has not ticked within twice its shortest interval.",
            value=1.0 if status.state == heartbeat.STALE else 0.0,
        )


def process_registry() -> CollectorRegistry:
    """This process's counts, or, with PROMETHEUS_MULTIPROC_DIR, those of every process."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def exposition() -> bytes:
    live = CollectorRegistry(auto_describe=False)
    live.register(LiveCollector())
    return generate_latest(process_registry()) + generate_latest(live)


# --- access ------------------------------------------------------------------------------------


def allowed(request: HttpRequest) -> bool:
    """METRICS_TOKEN as a bearer token; when it is unset, the loopback only (CONTRACT §8)."""
    token = settings.METRICS_TOKEN
    if token:
        sent = request.headers.get("Authorization", "")
        return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())
    try:
        return ipaddress.ip_address(client_address(request)).is_loopback
    except ValueError:
        return False


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
