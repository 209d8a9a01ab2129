"""The discovery list against a bare Django view on the same server (one Daphne, the seed's
command, and the deployed gunicorn layout), and page cost."""

from __future__ import annotations

import asyncio
import time
from base64 import b64encode
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
from django.db import connection
from django.urls import Resolver404, resolve

from bench.common import Figure, median, ms

LIST = "/api/events/?page_size=20"
# Production settings redirect plain http to https unless a TLS proxy says it terminated TLS:
# the bench speaks as that proxy does, so the production middleware path is what is measured.
PROXIED = {"X-Forwarded-Proto": "https"}
BARE = "/bench/constant/"
PLAIN = "/bench/plain/events/"


def api_available() -> bool:
    try:
        resolve("/api/events/")
    except Resolver404:
        return False
    return True


@dataclass
class Window:
    rate: float  # requests/s
    client_cpu: float  # the share of one core this (client) process used meanwhile


async def _throughput(base: str, path: str, seconds: float, connections: int) -> Window:
    """Requests/s that `connections` concurrent keep-alive clients get for `path`."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(
        base_url=base, limits=limits, timeout=30, headers=PROXIED
    ) as client:
        await asyncio.gather(*(client.get(path) for _ in range(connections)))  # open them all
        done = 0
        deadline = time.perf_counter() + seconds

        async def run() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                response = await client.get(path)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: HTTP {response.status_code} {response.text[:200]}")
                done += 1

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(run() for _ in range(connections)))
        wall = time.perf_counter() - started
        return Window(done / wall, (time.process_time() - cpu) / wall)


def alternate(
    port: int, paths: list[str], repeat: int, seconds: float, connections: int
) -> list[list[Window]]:
    """Throughput of each path, `repeat` windows each, alternating the order every round."""
    base = f"http://127.0.0.1:{port}"
    samples: list[list[Window]] = [[] for _ in paths]
    for i in range(repeat):
        order = list(zip(paths, samples, strict=True))
        for path, runs in order if i % 2 else reversed(order):
            runs.append(asyncio.run(_throughput(base, path, seconds, connections)))
    return samples


def _method(seconds: float, repeat: int, connections: int) -> str:
    return (
        f"{connections} keep-alive connections from an httpx + asyncio client in the bench "
        f"process (same 2 cores as the server and PostgreSQL), {seconds:g} s windows, "
        f"{repeat} of each alternating"
    )


def _windows(label: str, windows: list[Window]) -> str:
    """The windows' rates, and how busy the client was: near 100 % of a core, the figure is the
    client's limit rather than the server's."""
    rates = ", ".join(f"{w.rate:,.0f}" for w in windows)
    cpu = median([w.client_cpu for w in windows])
    return f"{label} {rates} (client {cpu:.0%} of a core)"


def list_vs_bare(
    port: int, events: int, repeat: int, seconds: float, connections: int, server: str = "Daphne"
) -> tuple[Figure, float]:
    first = httpx.get(f"http://127.0.0.1:{port}{LIST}", timeout=30, headers=PROXIED).json()
    assert len(first["results"]) == 20, first
    assert "next" in first, first
    ours_windows, bare_windows = alternate(port, [LIST, BARE], repeat, seconds, connections)
    ours, bare = [w.rate for w in ours_windows], [w.rate for w in bare_windows]
    ratio = median(ours) / median(bare)
    figure = Figure(
        name=f"discovery list GET /api/events/ (20 a page) at {events:,} events, {server}",
        ours=f"{median(ours):,.0f} req/s",
        baseline=f"bare Django JSON view {median(bare):,.0f} req/s",
        ratio=f"{ratio:.2f}×",
        target="≥ 0.5×, flat 1k → 1M",
        met=ratio >= 0.5,
        notes=[
            f"{_method(seconds, repeat, connections)}: {_windows('list', ours_windows)}; "
            + _windows("bare", bare_windows)
        ],
    )
    return figure, ratio


def list_vs_plain(
    port: int, events: int, repeat: int, seconds: float, connections: int, server: str = "Daphne"
) -> Figure:
    """Ours against bench.urls.PlainEventViewSet: ModelViewSet, ModelSerializer, page numbers."""
    base = f"http://127.0.0.1:{port}"
    ours_page = httpx.get(base + LIST, timeout=30, headers=PROXIED).json()["results"]
    plain_page = httpx.get(base + PLAIN, timeout=30, headers=PROXIED).json()["results"]
    assert [e["id"] for e in ours_page] == [e["id"] for e in plain_page], "not the same rows"
    ours_windows, plain_windows = alternate(port, [LIST, PLAIN], repeat, seconds, connections)
    ours, plain = [w.rate for w in ours_windows], [w.rate for w in plain_windows]
    ratio = median(ours) / median(plain)
    return Figure(
        name=f"discovery list vs a plain DRF ModelViewSet at {events:,} events, {server}",
        ours=f"{median(ours):,.0f} req/s",
        baseline=f"ModelViewSet + ModelSerializer {median(plain):,.0f} req/s",
        ratio=f"{ratio:.2f}×",
        target="≥ 2×",
        met=ratio >= 2,
        notes=[
            "the same 20 rows (asserted); the plain one (bench/urls.py) joins the organizer, "
            "annotates the count and pages by number (its COUNT(*) over every discoverable "
            f"row); {_method(seconds, repeat, connections)}: {_windows('ours', ours_windows)}; "
            + _windows("plain", plain_windows)
        ],
    )


def cursor_at(page: int, page_size: int = 20) -> tuple[str, int]:
    """The `?cursor=` of page `page` in DRF's CursorPagination terms (ordering start_date, id).

    DRF reads a cursor as "start_date > position, then skip offset rows": the position is the
    last start_date before the page's first row, the offset the rows that share its start_date.
    """
    active = "status IN ('CONFIRMED', 'ONGOING')"  # a constant; values below are parameters
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT start_date, id FROM events_event WHERE {active} "  # noqa: S608
            "ORDER BY start_date, id OFFSET %s LIMIT 1",
            [(page - 1) * page_size],
        )
        first_start, first_id = cursor.fetchone()
        cursor.execute(
            f"SELECT max(start_date) FROM events_event WHERE {active} AND start_date < %s",  # noqa: S608
            [first_start],
        )
        position = cursor.fetchone()[0]
        cursor.execute(
            f"SELECT count(*) FROM events_event WHERE {active} AND start_date = %s AND id < %s",  # noqa: S608
            [first_start, first_id],
        )
        offset = cursor.fetchone()[0]
    tokens = {"o": str(offset)} if offset else {}
    if position is not None:
        tokens["p"] = str(position)
    return b64encode(urlencode(tokens).encode("ascii")).decode("ascii"), int(first_id)


def page_latency(port: int, far_page: int, samples: int) -> list[tuple[str, float]]:
    """Median latency of one request for page 1 and for page `far_page` (via its cursor)."""
    base = f"http://127.0.0.1:{port}"
    cursor, first_id = cursor_at(far_page)
    far = f"{LIST}&cursor={cursor}"
    rows = []
    with httpx.Client(base_url=base, timeout=30, headers=PROXIED) as client:
        assert client.get(far).json()["results"][0]["id"] == first_id, "cursor lands elsewhere"
        for label, path in [("page 1", LIST), (f"page {far_page:,}", far)]:
            response = client.get(path)
            assert response.status_code == 200, path
            assert len(response.json()["results"]) == 20, path
            times = []
            for _ in range(samples):
                started = time.perf_counter()
                client.get(path)
                times.append(time.perf_counter() - started)
            rows.append((label, median(times)))
    return rows


def page_latency_section(rows_by_size: dict[int, list[tuple[str, float]]]) -> list[str]:
    lines = [
        "## Discovery list latency by page (one client, sequential, median)",
        "",
        "| events | page | latency |",
        "|---|---|---|",
    ]
    for events, rows in rows_by_size.items():
        lines += [f"| {events:,} | {label} | {ms(seconds, 1)} |" for label, seconds in rows]
    return [*lines, ""]
