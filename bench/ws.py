"""WebSocket: N clients on the public stream, one sweep of M transitions, commit → message."""

from __future__ import annotations

import asyncio
import json
import resource
import time
from datetime import timedelta

from django.db import connection, transaction
from websockets.asyncio.client import ClientConnection, connect

from apps.events import clock, lifecycle
from bench.common import Figure, median, ms, percentile
from bench.data import bench_user

DUE_SQL = """
INSERT INTO events_event (title, description, venue, organizer_id, start_date, end_date,
                          status, created_at, updated_at, timezone, dates_revision)
SELECT 'Pushed ' || g, '', '', %(organizer)s, %(ended)s - interval '1 hour', %(ended)s,
       'ONGOING', now(), now(), 'Europe/London', 0
FROM generate_series(1, %(count)s) AS g
RETURNING id
"""


def raise_fd_limit(needed: int) -> None:
    """Room for the clients here and, inherited by Daphne started after this, their peers."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


async def _open(port: int, clients: int) -> list[ClientConnection]:
    url = f"ws://127.0.0.1:{port}/ws/events/"
    origin = f"http://127.0.0.1:{port}"
    sockets: list[ClientConnection] = []
    for start in range(0, clients, 100):  # in waves: Daphne accepts, it does not queue forever
        wave = min(100, clients - start)
        sockets += await asyncio.gather(
            *(connect(url, origin=origin, open_timeout=60, max_size=None) for _ in range(wave))  # type: ignore[arg-type]
        )
    return sockets


async def _receive_all(ws: ClientConnection, changes: int, log: list[tuple[float, bytes]]) -> None:
    """Record (arrival time, raw message) until `changes` changes arrived; parse nothing here,
    so that 1,000 clients in one process measure the server, not this loop's JSON parsing."""
    seen = 0
    while seen < changes:
        raw = await ws.recv(decode=False)
        log.append((time.perf_counter(), raw))
        seen += raw.count(b'"event_id"')


def _sweep(transitions: int) -> tuple[float, list[int]]:
    """Insert `transitions` ended events, sweep them; the perf_counter time of the commit."""
    with connection.cursor() as cursor:
        cursor.execute(
            DUE_SQL,
            {
                "organizer": bench_user().pk,
                "ended": clock.now() - timedelta(seconds=1),
                "count": transitions,
            },
        )
        ids = [row[0] for row in cursor.fetchall()]
    committed: list[float] = []
    try:
        with transaction.atomic():
            # Registered before the sweep's own push, so it runs first, right at commit.
            transaction.on_commit(lambda: committed.append(time.perf_counter()))
            changes = lifecycle.complete_ended()
    finally:
        connection.close()  # this thread's own connection
    assert {c.event_id for c in changes} >= set(ids), "the sweep missed some events"
    return committed[0], ids


async def _measure(port: int, clients: int, transitions: int) -> tuple[float, list, list]:
    sockets = await _open(port, clients)
    logs: list[list[tuple[float, bytes]]] = [[] for _ in sockets]
    receivers = [
        asyncio.create_task(_receive_all(ws, transitions, log))
        for ws, log in zip(sockets, logs, strict=True)
    ]
    await asyncio.sleep(0.5)
    # The sweep blocks this thread (as a worker would be blocked); arrivals queue meanwhile and
    # are stamped when this loop reads them, so a blocked loop only makes the figure worse.
    committed, ids = await asyncio.to_thread(_sweep, transitions)
    await asyncio.wait_for(asyncio.gather(*receivers), timeout=120)
    await asyncio.gather(*(ws.close() for ws in sockets))
    return committed, ids, logs


def commit_to_message(port: int, clients: int, transitions: int) -> Figure:
    raise_fd_limit(clients * 2 + 512)
    committed, ids, logs = asyncio.run(_measure(port, clients, transitions))
    latencies = []
    for log in logs:
        received: list[int] = []
        for arrived, raw in log:
            message = json.loads(raw)
            batch = message["changes"] if message["type"] == "event.status.batch" else [message]
            received += [change["event_id"] for change in batch]
            latencies += [arrived - committed] * len(batch)
        assert sorted(received) == sorted(ids), "a client missed or doubled a change"
    p99 = percentile(latencies, 99)
    return Figure(
        name=f"WebSocket: {clients:,} clients, one sweep of {transitions:,} transitions",
        ours=(
            f"commit → message p50 {ms(median(latencies))}, p99 {ms(p99)}, max {ms(max(latencies))}"
        ),
        baseline="— (absolute)",
        ratio="—",
        target="p99 ≤ 1 s",
        met=p99 <= 1,
        notes=[
            f"{clients:,} `websockets` clients in the bench process on /ws/events/ of one Daphne; "
            f"every client received all {transitions:,} changes exactly once "
            f"({len(latencies):,} deliveries, batches of 500)"
        ],
    )
