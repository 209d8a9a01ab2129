"""Webhooks (issue 19): the relay's throughput to a local receiver against plain signed POSTs,
and the big sweep with one subscribed endpoint against the same sweep without it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from functools import partial

import httpx
from django.conf import settings
from django.db import connection, transaction
from standardwebhooks import Webhook

from apps.events import clock, lifecycle
from apps.webhooks import endpoints, relay
from apps.webhooks.models import Delivery, Endpoint
from bench.common import REPO, Figure, median, timed
from bench.data import bench_user, load_events, vacuum


@contextmanager
def receiver(secret: str) -> Iterator[str]:
    """bench/hook_receiver.py in a process of its own (not on this process's GIL); its URL."""
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "hook_receiver.py"), secret],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def _stats(client: httpx.Client, base: str) -> dict[str, int]:
    return dict(client.get(f"{base}/stats").json())


def _vacuum_deliveries() -> None:
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE webhooks_delivery")


def _endpoint(url: str) -> Endpoint:
    """The bench user's one endpoint, subscribed to everything (its secret is a real one)."""
    return Endpoint.objects.create(
        owner=bench_user(),
        url=url,
        event_types=["*"],
        secret=endpoints.new_secret(),
        created_at=clock.now(),
    )


def _plain_posts(client: httpx.Client, url: str, secret: str, bodies: list[str]) -> int:
    """The baseline: the same number of signed POSTs, as many at once as the relay sends,
    with nothing read from or written to the database."""
    signer = Webhook(secret)

    def post(item: tuple[int, str]) -> int:
        index, body = item
        at = clock.now()
        webhook_id = f"msg_plain_{index}"
        response = client.post(
            url,
            content=body.encode(),
            headers={
                "content-type": "application/json",
                "webhook-id": webhook_id,
                "webhook-timestamp": str(int(at.timestamp())),
                "webhook-signature": signer.sign(webhook_id, at, body),
            },
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=settings.WEBHOOK_SENDERS) as pool:
        return sum(code == 200 for code in pool.map(post, enumerate(bodies)))


def relay_throughput(count: int, repeat: int) -> Figure:
    """`count` transitions swept with one endpoint subscribed, then `relay.relay_due()` to a
    receiver answering 200, alternating with as many plain signed httpx POSTs.

    The time is taken here, not from the start of `make bench`: the receiver checks each
    signature's timestamp against its clock (standardwebhooks allows five minutes)."""
    settings.WEBHOOK_ALLOW_PRIVATE = True  # the receiver is on 127.0.0.1
    secret = endpoints.new_secret()
    now = clock.now()
    # Only this endpoint may be subscribed: one left by an interrupted run would double the rows.
    Endpoint.objects.all().delete()
    with receiver(secret) as base, httpx.Client(timeout=10) as control:
        load_events(count, count, now)
        endpoint = _endpoint(f"{base}/hook")
        Endpoint.objects.filter(pk=endpoint.pk).update(secret=secret)
        try:
            swept = len(lifecycle.complete_ended(now))
            written = Delivery.objects.count()
            assert swept == count == written, (swept, written)
            bodies: list[str] = []
            ours, plain = [], []
            for i in range(repeat):
                for side in ("ours", "plain") if i % 2 == 0 else ("plain", "ours"):
                    control.post(f"{base}/reset")
                    if side == "ours":
                        Delivery.objects.update(
                            state=Delivery.State.PENDING,
                            next_attempt_at=now,
                            attempts=0,
                            payload="",
                            sent_at=None,
                        )
                        _vacuum_deliveries()
                        seconds, attempted = timed(lambda: relay.relay_due(now))
                        stats = _stats(control, base)
                        sent = Delivery.objects.filter(state=Delivery.State.SENT).count()
                        # Exactly once per endpoint: every webhook-id once, each verified.
                        assert attempted == count == sent, (attempted, sent)
                        expected = {"requests": count, "distinct": count, "unverified": 0}
                        assert stats == expected, stats
                        ours.append(count / seconds)
                        bodies = list(
                            Delivery.objects.order_by("id").values_list("payload", flat=True)
                        )
                    else:
                        sample = bodies or ['{"type":"event.completed"}'] * count
                        with httpx.Client(timeout=10) as client:
                            seconds, ok = timed(
                                partial(_plain_posts, client, f"{base}/hook", secret, sample)
                            )
                        stats = _stats(control, base)
                        assert ok == count == stats["distinct"], (ok, stats)
                        plain.append(count / seconds)
        finally:
            Endpoint.objects.filter(pk=endpoint.pk).delete()
    rate, base_rate = median(ours), median(plain)
    return Figure(
        name=f"webhooks: {count:,} deliveries to a local receiver answering 200",
        ours=f"{rate:,.0f} deliveries/s, exactly {count:,} distinct webhook-ids",
        baseline=f"plain signed httpx POSTs {base_rate:,.0f}/s",
        ratio=f"{rate / base_rate:.2f}×",
        target="≥ 500 deliveries/s, exactly once",
        met=rate >= 500,
        notes=[
            f"{repeat} of each, alternating; ours = relay.relay_due() (claim {relay.BATCH_SIZE} "
            "under SKIP LOCKED, render and store each first body, sign, send "
            f"{settings.WEBHOOK_SENDERS} at a time while the next batch is claimed, record the "
            "outcomes) after one sweep wrote "
            "the rows; baseline = the same bodies signed and POSTed by the same number of "
            "threads on one httpx client, no database; the receiver is bench/hook_receiver.py "
            "(its own process, keep-alive, verifies every signature with standardwebhooks); "
            "runs: ours "
            + ", ".join(f"{r:,.0f}" for r in ours)
            + "/s; plain "
            + ", ".join(f"{r:,.0f}" for r in plain)
            + "/s",
        ],
    )


def _one_sweep(due: int, now: datetime, subscribed: bool) -> float:
    """complete_ended() in a transaction rolled back afterwards; with `subscribed`, the bench
    user (every event's organizer) has one active endpoint for all types."""
    with transaction.atomic():
        if subscribed:
            _endpoint("https://hooks.example.com/eventide")
        seconds, changes = timed(lambda: lifecycle.complete_ended(now))
        written = Delivery.objects.count()
        transaction.set_rollback(True)
    assert len(changes) == due, (len(changes), due)
    assert written == (due if subscribed else 0), written
    vacuum()
    _vacuum_deliveries()
    return seconds


def sweep_with_endpoint(
    total: int, due: int, repeat: int, now: datetime, *, load: bool = True
) -> Figure:
    """The big sweep with one endpoint subscribed (a delivery row per transition, in the same
    statement) against the same sweep without it, alternating."""
    if load:
        load_events(total, due, now)
    assert not Endpoint.objects.filter(is_active=True).exists()
    hooked: list[float] = []
    bare: list[float] = []
    for i in range(repeat):
        for subscribed in (True, False) if i % 2 == 0 else (False, True):
            (hooked if subscribed else bare).append(_one_sweep(due, now, subscribed))
    ours, base = median(hooked), median(bare)
    ratio = ours / base
    return Figure(
        name=f"sweep with one webhook endpoint: {due:,} due among {total:,}",
        ours=f"{ours * 1000:,.0f} ms, {due:,} deliveries written",
        baseline=f"same sweep, no endpoint, {base * 1000:,.0f} ms",
        ratio=f"{ratio:.2f}×",
        target="≤ 1.3×",
        met=ratio <= 1.3,
        notes=[
            f"{repeat} of each, alternating, each rolled back and followed by VACUUM ANALYZE; "
            "both are lifecycle.complete_ended() (one statement: UPDATE, audit INSERT, outbox "
            "INSERT … SELECT); runs: with "
            + ", ".join(f"{t * 1000:,.0f}" for t in hooked)
            + " ms; without "
            + ", ".join(f"{t * 1000:,.0f}" for t in bare)
            + " ms",
        ],
    )
