"""WebSocket clients of the push figures, in child processes of their own (`spawn`).

The load generator is Python on the same cores as the servers: run in the bench process, its
event loop would be one more thing the figure measures (and the sweep's thread would compete
with it). Each child opens its sockets, reports ready, records (arrival, raw frame) until every
socket holds all changes, then, only then, parses the frames and checks them against the ids the
parent sends after the sweep. This module imports no Django: a spawned child starts fast.

Arrival times are `time.perf_counter()`, CLOCK_MONOTONIC on Linux: one clock for every process.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import resource
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from websockets.asyncio.client import ClientConnection, connect


@dataclass
class ClientReport:
    """What one client process measured; `arrivals` holds one (time, changes) per frame."""

    arrivals: list[list[tuple[float, int]]]
    bad_clients: int
    frames: int
    changes: int
    parse_seconds: float
    # CPU seconds / wall seconds between the first and the last frame: near 1.0, the client
    # process (not the server) was the bottleneck of the delivery.
    busy: float


def raise_fd_limit(needed: int) -> None:
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


# This process's CPU time when its first frame arrived (see ClientReport.busy).
_first_frame_cpu: list[float] = []


async def _receive_all(ws: ClientConnection, changes: int, log: list[tuple[float, bytes]]) -> None:
    """Record (arrival time, raw message) until `changes` changes arrived; parse nothing here."""
    seen = 0
    while seen < changes:
        raw = await ws.recv(decode=False)
        log.append((time.perf_counter(), raw))
        if not _first_frame_cpu:
            _first_frame_cpu.append(time.process_time())
        seen += raw.count(b'"event_id"')


async def _run(conn: Connection, targets: list[tuple[int, int]], transitions: int) -> None:
    sockets: list[ClientConnection] = []
    for port, count in targets:
        sockets += await _open(port, count)
    logs: list[list[tuple[float, bytes]]] = [[] for _ in sockets]
    receivers = [
        asyncio.create_task(_receive_all(ws, transitions, log))
        for ws, log in zip(sockets, logs, strict=True)
    ]
    conn.send("ready")
    await asyncio.wait_for(asyncio.gather(*receivers), timeout=120)
    cpu_last, wall_last = time.process_time(), time.perf_counter()
    conn.send("received")  # before any close: the parent reads the servers' CPU time now
    first = min(log[0][0] for log in logs)
    busy = (cpu_last - _first_frame_cpu[0]) / max(wall_last - first, 1e-9)

    expected = sorted(await asyncio.to_thread(conn.recv))
    await asyncio.gather(*(ws.close() for ws in sockets))
    started = time.perf_counter()
    arrivals: list[list[tuple[float, int]]] = []
    bad = frames = changes = 0
    for log in logs:
        received: list[int] = []
        bad_ids = False
        client: list[tuple[float, int]] = []
        for arrived, raw in log:
            message: dict[str, Any] = json.loads(raw)
            batch = message["changes"] if message["type"] == "event.status.batch" else [message]
            received += [change["event_id"] for change in batch]
            bad_ids = bad_ids or any(not change.get("change_id") for change in batch)
            client.append((arrived, len(batch)))
            frames += 1
            changes += len(batch)
        bad += sorted(received) != expected or bad_ids
        arrivals.append(client)
    parse = time.perf_counter() - started
    conn.send(ClientReport(arrivals, bad, frames, changes, parse, busy))


def _child(conn: Connection, targets: list[tuple[int, int]], transitions: int) -> None:
    raise_fd_limit(sum(count for _, count in targets) + 256)
    try:
        asyncio.run(_run(conn, targets, transitions))
    except BaseException as exc:
        conn.send(exc)
        raise


class ClientProcesses:
    """Child processes holding the sockets: each gets a list of (port, how many sockets)."""

    def __init__(self, plan: list[list[tuple[int, int]]], transitions: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.conns: list[Connection] = []
        self.procs = []
        for targets in plan:
            parent, child = context.Pipe()
            proc = context.Process(target=_child, args=(child, targets, transitions), daemon=True)
            proc.start()
            self.conns.append(parent)
            self.procs.append(proc)

    def _recv(self, conn: Connection, timeout: float) -> Any:
        if not conn.poll(timeout):
            raise TimeoutError("a client process did not answer in time")
        value = conn.recv()
        if isinstance(value, BaseException):
            raise RuntimeError("a client process failed") from value
        return value

    def wait_ready(self, timeout: float = 120) -> None:
        for conn in self.conns:
            assert self._recv(conn, timeout) == "ready"

    def wait_received(self, timeout: float = 180) -> None:
        """Until every socket holds every change (the sockets stay open)."""
        for conn in self.conns:
            assert self._recv(conn, timeout) == "received"

    def results(self, ids: list[int], timeout: float = 180) -> list[ClientReport]:
        for conn in self.conns:
            conn.send(ids)
        return [self._recv(conn, timeout) for conn in self.conns]

    def stop(self) -> None:
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
