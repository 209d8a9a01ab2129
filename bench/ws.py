"""WebSocket: N clients on the public stream, one sweep of M transitions, commit → message.

The clients run in child processes (bench.ws_clients), CLIENT_PROCESSES per Daphne, not in the
bench process.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.db import connection, transaction

from apps.events import clock, lifecycle, realtime
from bench.common import Figure, median, ms, percentile
from bench.data import bench_user
from bench.ws_clients import ClientProcesses
from tests.support.processes import ManagedProcess

DUE_SQL = """
INSERT INTO events_event (title, description, venue, timezone, dates_revision, organizer_id,
                          start_date, end_date, status, created_at, updated_at)
SELECT 'Pushed ' || g, '', '', 'Europe/London', 0, %(organizer)s,
       %(ended)s - interval '1 hour', %(ended)s, 'ONGOING', now(), now()
FROM generate_series(1, %(count)s) AS g
RETURNING id
"""


def raise_fd_limit(needed: int) -> None:
    """Room for the clients here and, inherited by Daphne started after this, their peers."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


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


@dataclass
class Deliveries:
    """Every change's commit → message latency over every client, and what the clients cost."""

    latencies: list[float]
    frames: int
    parse_seconds: float
    busy: list[float]
    server_busy: list[float]

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 99)

    def summary(self) -> str:
        return (
            f"commit → message p50 {ms(median(self.latencies))}, p99 {ms(self.p99)}, "
            f"max {ms(max(self.latencies))}"
        )

    def client_note(self) -> str:
        per_million = self.parse_seconds / max(len(self.latencies), 1) * 1_000_000
        busy = ", ".join(f"{b:.0%}" for b in self.busy)
        server = ", ".join(f"{b:.0%}" for b in self.server_busy)
        return (
            f"who sets the figure: Daphne CPU busy {server} of the time from commit to the last "
            f"frame; the clients ({len(self.busy)} process(es) of their own, outside the bench "
            f"process) {busy} between their first and last frame (near 100 % would mean the "
            f"clients, not the server, set the figure); parsing the {self.frames:,} frames "
            f"afterwards took {self.parse_seconds:.2f} s ({per_million:.1f} s per 1,000,000 "
            "changes), which is why no frame is parsed while they arrive"
        )


def server(proc: ManagedProcess, port: int) -> tuple[int, int]:
    """A Daphne started by `procs.daphne()` as `deliveries` takes it: (pid, port)."""
    assert proc.proc is not None, "not started"
    return proc.proc.pid, port


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Client processes per server: one client process could not read 1,000 sockets' frames as
# fast as Daphne sent them (99 % busy), and then the figure was the client's.
CLIENT_PROCESSES = 2


def deliveries(servers: list[tuple[int, int]], clients: int, transitions: int) -> Deliveries:
    """`clients` sockets on each server (pid, port), CLIENT_PROCESSES client processes per server;
    one sweep."""
    raise_fd_limit(clients * len(servers) * 2 + 512)
    split = [
        clients // CLIENT_PROCESSES + (i < clients % CLIENT_PROCESSES)
        for i in range(CLIENT_PROCESSES)
    ]
    plan = [[(port, share)] for _, port in servers for share in split if share]
    children = ClientProcesses(plan, transitions)
    try:
        children.wait_ready()
        time.sleep(0.5)
        before = [cpu_seconds(pid) for pid, _ in servers]
        # The sweep runs in this process (as a worker would); its push goes out at commit.
        committed, ids = _sweep(transitions)
        children.wait_received()
        window = time.perf_counter() - committed
        server_busy = [
            (cpu_seconds(pid) - used) / window
            for (pid, _), used in zip(servers, before, strict=True)
        ]
        reports = children.results(ids)
    finally:
        children.stop()
    bad = sum(report.bad_clients for report in reports)
    assert not bad, f"{bad} client(s) missed or doubled a change"
    latencies = [
        arrived - committed
        for report in reports
        for client in report.arrivals
        for arrived, count in client
        for _ in range(count)
    ]
    assert len(latencies) == clients * len(servers) * transitions, "deliveries missing"
    return Deliveries(
        latencies,
        sum(report.frames for report in reports),
        sum(report.parse_seconds for report in reports),
        [report.busy for report in reports],
        server_busy,
    )


# The one-process figure of the run, the two-process figure's baseline.
_one_process: dict[str, Deliveries] = {}


# The stock channels_redis layer, which the baseline Daphne runs (bench/settings.py).
STOCK_LAYER = "channels_redis.core.RedisChannelLayer"


def commit_to_message(
    server: tuple[int, int], stock: tuple[int, int], clients: int, transitions: int
) -> Figure:
    """`server` is Daphne's (pid, port); `stock` a Daphne on channels_redis's own layer
    (`BENCH_CHANNEL_LAYER=STOCK_LAYER`), measured first the same way."""
    baseline = deliveries([stock], clients, transitions)
    measured = deliveries([server], clients, transitions)
    _one_process["last"] = measured
    return Figure(
        name=f"WebSocket: {clients:,} clients, one sweep of {transitions:,} transitions",
        ours=measured.summary(),
        baseline=f"channels_redis's own layer: {baseline.summary()}",
        ratio=f"{measured.p99 / baseline.p99:.2f}× (p99)",
        target="p99 ≤ 500 ms",
        met=measured.p99 <= 0.5,
        notes=[
            f"{clients:,} `websockets` clients on /ws/events/ of one Daphne; every client "
            f"received all {transitions:,} changes exactly once "
            f"({len(measured.latencies):,} deliveries, batches of {realtime.BATCH_SIZE})",
            "ours: core.channel_layer (one reader per process hands each message to its "
            "channels); baseline: a Daphne of the same code on `channels_redis.core."
            "RedisChannelLayer` (each waiting consumer also waits on the read lock), run first",
            measured.client_note(),
            f"baseline, {baseline.client_note()}",
        ],
    )


def two_processes(servers: list[tuple[int, int]], clients: int, transitions: int) -> Figure:
    """`clients` on each of two Daphne processes sharing the channel layer; the baseline is the
    one-process figure of the same run (`commit_to_message`, run first)."""
    assert len(servers) == 2, "two Daphne processes"
    measured = deliveries(servers, clients, transitions)
    one = _one_process.get("last")
    total = clients * len(servers)
    return Figure(
        name=(
            f"WebSocket: {total:,} clients over {len(servers)} Daphne processes, "
            f"one sweep of {transitions:,} transitions"
        ),
        ours=measured.summary(),
        baseline=f"1 process, {clients:,} clients: {one.summary()}" if one else "not measured",
        ratio=f"{measured.p99 / one.p99:.2f}× (p99)" if one else "—",
        target="p99 ≤ 500 ms",
        met=measured.p99 <= 0.5,
        notes=[
            f"{clients:,} `websockets` clients on /ws/events/ of each of {len(servers)} Daphne "
            f"processes on one channel layer (Redis); every client received all "
            f"{transitions:,} changes exactly once ({len(measured.latencies):,} deliveries)",
            measured.client_note(),
            f"{os.cpu_count()} cores for both Daphnes, their client processes, Redis and the "
            "sweep: twice the clients is twice the CPU work on the same cores, so a ratio near "
            "2× is the machine, not the fan-out; one channel-layer message reaches each "
            "process (channels_redis groups a process's channels), not one per client",
        ],
    )
