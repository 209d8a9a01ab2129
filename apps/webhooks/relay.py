"""The relay: claims due deliveries, signs and sends them, records each outcome (CONTRACT §9).

A claim is a short transaction (`SELECT … FOR UPDATE SKIP LOCKED`) that moves the rows' next
attempt a lease ahead and counts the attempt; the sends happen after it commits, so no lock or
transaction is held while a receiver takes its time. Two relays never claim the same row; a relay
that dies mid-send leaves rows that become due again when the lease ends, and are sent again with
the same `webhook-id`: delivery is at least once, receivers de-duplicate on that id.

Retries wait in the database (`next_attempt_at`), never in a Celery countdown: exponential
backoff from WEBHOOK_RETRY_BASE_SECONDS, capped at MAX_DELAY, for at least RETRY_FOR after the
transition; a 410 turns the endpoint off.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from standardwebhooks import Webhook

from apps.events import clock, representation, selectors, sql
from apps.events.models import Event
from apps.webhooks import addresses
from apps.webhooks.models import Delivery, Endpoint
from core import metrics

# Enqueued by name (effects, the periodic list): the task module imports this one.
RELAY_TASK = "webhooks.relay"
QUEUE = "webhooks"

TIMEOUT = 10.0
MAX_DELAY = timedelta(hours=12)
RETRY_FOR = timedelta(days=3)
BATCH_SIZE = 100

State = Delivery.State
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    status_code: int | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410


def lease() -> timedelta:
    """How long a claim keeps its rows: longer than a send can take (TIMEOUT, settings check)."""
    return timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: base, 2 × base, 4 × base, …"""
    base = timedelta(seconds=settings.WEBHOOK_RETRY_BASE_SECONDS)
    return min(base * 2 ** min(attempts - 1, 30), MAX_DELAY)


def relay_due(at: datetime | None = None) -> int:
    """Send every delivery due at `at` (now), batch by batch; returns how many were attempted."""
    at = at or clock.now()
    attempted = 0
    with (
        httpx.Client(timeout=TIMEOUT, follow_redirects=False) as client,
        ThreadPoolExecutor(max_workers=settings.WEBHOOK_SENDERS) as pool,
    ):
        batch = claim(at)
        while batch:
            # The next batch is claimed (database, this thread) while this one is on the wire
            # (the pool's threads); its rows are leased, so nothing else sends them meanwhile.
            sending = [pool.submit(send, client, delivery, at) for delivery in batch]
            following = claim(at)
            gone = record(batch, [future.result() for future in sending], at)
            attempted += len(batch)
            batch = _release_gone(following, gone, at)
    return attempted


def _release_gone(batch: list[Delivery], gone: set[int], at: datetime) -> list[Delivery]:
    """`batch` without the deliveries of endpoints that just answered 410: those are handed back
    as they were before the claim (pending, due, the attempt not counted), never sent."""
    kept = [delivery for delivery in batch if delivery.endpoint_id not in gone]
    if len(kept) < len(batch):
        Delivery.objects.filter(id__in=[d.pk for d in batch if d.endpoint_id in gone]).update(
            next_attempt_at=at, attempts=F("attempts") - 1
        )
    return kept


def claim(at: datetime) -> list[Delivery]:
    """Lease up to BATCH_SIZE due deliveries of active endpoints to this relay, payloads written."""
    with transaction.atomic():
        ids = list(
            Delivery.objects.filter(
                state=State.PENDING, next_attempt_at__lte=at, endpoint__is_active=True
            )
            .order_by("next_attempt_at", "id")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("id", flat=True)[:BATCH_SIZE]
        )
        if not ids:
            return []
        Delivery.objects.filter(id__in=ids).update(
            next_attempt_at=at + lease(), attempts=F("attempts") + 1
        )
        batch = list(
            Delivery.objects.filter(id__in=ids).select_related("endpoint", "change").order_by("id")
        )
        _write_payloads([d for d in batch if not d.payload], at)
    return batch


def _write_payloads(deliveries: Sequence[Delivery], at: datetime) -> None:
    """Render each first attempt's body once, and keep it: every retry signs the same bytes."""
    if not deliveries:
        return
    events = selectors.with_counts(
        Event.objects.filter(id__in={d.change.event_id for d in deliveries})
    ).in_bulk()
    for delivery in deliveries:
        delivery.payload = payload(delivery, events[delivery.change.event_id], at)
    if sql.is_postgresql():
        statement, params = sql.set_texts_statement(
            Delivery._meta.db_table, "payload", [(d.pk, d.payload) for d in deliveries]
        )
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
    else:
        Delivery.objects.bulk_update(deliveries, ["payload"])


def payload(delivery: Delivery, event: Event, at: datetime) -> str:
    """The §9 body: type, timestamp, and the change with the event's JSON of §4."""
    body = {
        "type": delivery.type,
        "timestamp": representation.iso(at),
        "data": {
            "change_id": delivery.change_id,
            "previous_status": delivery.change.from_status,
            "event": representation.event_json(event),
        },
    }
    return json.dumps(body, separators=(",", ":"))


def headers(delivery: Delivery, at: datetime) -> dict[str, str]:
    """Standard Webhooks headers: the id of the delivery, the time of this attempt, the HMAC."""
    signature = Webhook(delivery.endpoint.secret).sign(delivery.webhook_id, at, delivery.payload)
    return {
        "content-type": "application/json",
        "user-agent": "Eventide-Webhooks/1",
        "webhook-id": delivery.webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def send(client: httpx.Client, delivery: Delivery, at: datetime) -> Outcome:
    """One attempt. The connection goes to the address that was checked (no re-resolution in
    between), with the URL's host name in `Host` and for TLS."""
    url = urlsplit(delivery.endpoint.url)
    host = url.hostname or ""
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        address = addresses.resolve(host, port)[0]
        literal = f"[{address}]" if address.version == 6 else str(address)
        netloc = f"{literal}:{url.port}" if url.port else literal
        pinned = urlunsplit((url.scheme, netloc, url.path or "/", url.query, ""))
        response = client.post(
            pinned,
            content=delivery.payload.encode(),
            headers={**headers(delivery, at), "host": url.netloc.rpartition("@")[2]},
            extensions={"sni_hostname": host},
        )
    except addresses.AddressRefused as refused:
        return Outcome(delivery.pk, error=str(refused))
    except httpx.TimeoutException:
        return Outcome(delivery.pk, error=f"no answer within {TIMEOUT:.0f} s")
    except httpx.HTTPError as error:
        return Outcome(delivery.pk, error=f"{type(error).__name__}: {error}"[:300])
    return Outcome(delivery.pk, status_code=response.status_code)


def record(batch: Sequence[Delivery], outcomes: Sequence[Outcome], at: datetime) -> set[int]:
    """Write what each attempt gave: sent, retry later, given up, or the endpoint gone (410);
    returns the endpoints turned off by a 410.

    `outcomes` are those of `batch`, in its order. One UPDATE per distinct outcome (all the 200s
    of a batch are one), not one per delivery; a row whose endpoint was deleted meanwhile is
    simply not there to update."""
    groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    gone: set[int] = set()
    for delivery, outcome in zip(batch, outcomes, strict=True):
        state, next_attempt_at, sent_at = State.PENDING, None, None
        if outcome.ok:
            state, sent_at = State.SENT, at
        elif outcome.gone or at - delivery.created_at >= RETRY_FOR:
            state = State.FAILED
            if outcome.gone:
                gone.add(delivery.endpoint_id)
        else:
            next_attempt_at = at + retry_delay(delivery.attempts)
        key = (state, next_attempt_at, sent_at, outcome.status_code, outcome.error)
        groups[key].append(delivery.pk)
    for (state, next_attempt_at, sent_at, status_code, error), ids in groups.items():
        Delivery.objects.filter(id__in=ids).update(
            state=state,
            next_attempt_at=next_attempt_at,
            sent_at=sent_at,
            last_status_code=status_code,
            last_error=error,
        )
    if gone:
        Endpoint.objects.filter(id__in=gone).update(
            is_active=False, disabled_reason="The receiver answered 410 Gone."
        )
    for outcome in outcomes:
        # /metrics: "success", "gone" (410), or the failure that will be retried or given up on.
        label = "success" if outcome.ok else "gone" if outcome.gone else "failure"
        metrics.count_webhook_delivery(label)
    failed = sum(not outcome.ok for outcome in outcomes)
    if failed:
        logger.info("webhooks: %d sent, %d failed", len(outcomes) - failed, failed)
    return gone
