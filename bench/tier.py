"""The serving layouts under a mixed API load: throughput, latency, 5xx and PostgreSQL connections.

Every layout serves the same bench database and Redis as a real deployment would: one Daphne
(the seed's command, the baseline), gunicorn's threaded WSGI workers (with one Daphne beside them
for /ws/), uvicorn's ASGI workers. The load is a closed loop of users, each repeating one cycle
of the issue's mix (discovery, detail, My Events, create, confirm, join, leave, cancel) through
an httpx + asyncio client bounded to one connection per user.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import psycopg
from django.contrib.auth.models import User
from django.db.models import Count

from apps.accounts import tokens
from apps.events import clock, scheduling
from apps.events.models import Event, EventStatusChange
from bench.common import BENCH_DATABASE_URL, Figure, median, ms, percentile
from bench.data import bench_user
from bench.discovery import PROXIED
from bench.procs import bench_env
from tests.support import processes
from tests.support.processes import VENV_BIN, ManagedProcess

Status = Event.EventStatus
# Each layout's processes connect under this name and its index (libpq reads PGAPPNAME), so the
# sampler counts one layout's connections apart from the others', the worker's and the bench's.
APP_NAME = "eventide-web"
# The production web's pool per ASGI process (deploy/systemd/django.service, compose).
ASGI_POOL = 20


@dataclass(frozen=True)
class Layout:
    """One way to serve HTTP: `processes` Python processes, each with a pool of `pool`."""

    name: str
    processes: int
    pool: int
    argv: Callable[[int], list[str]]
    websocket_beside: bool = False  # /ws/ served by a Daphne of its own beside it

    @property
    def pool_total(self) -> int:
        return self.processes * self.pool + (ASGI_POOL if self.websocket_beside else 0)


def daphne_argv(port: int) -> list[str]:
    return [str(VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "core.asgi:application"]


def gunicorn(workers: int, threads: int) -> Layout:
    def argv(port: int) -> list[str]:
        return [
            str(VENV_BIN / "gunicorn"),
            "-k",
            "gthread",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--keep-alive",  # as deploy/ runs it: longer than the client keeps a connection idle
            "75",
            "-b",
            f"127.0.0.1:{port}",
            "core.wsgi:application",
        ]

    return Layout(
        f"gunicorn gthread {workers}×{threads} (+ Daphne for /ws/)",
        workers,
        threads,
        argv,
        websocket_beside=True,
    )


def uvicorn(workers: int) -> Layout:
    def argv(port: int) -> list[str]:
        return [
            str(VENV_BIN / "uvicorn"),
            "--workers",
            str(workers),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "core.asgi:application",
        ]

    return Layout(f"uvicorn --workers {workers}", workers, ASGI_POOL, argv)


DAPHNE = Layout("one Daphne", 1, ASGI_POOL, daphne_argv)
CANDIDATES = {
    "gunicorn-2x8": gunicorn(2, 8),
    "gunicorn-4x4": gunicorn(4, 4),
    "uvicorn-2": uvicorn(2),
    "uvicorn-4": uvicorn(4),  # not in `make bench`: its pools alone are 80 connections
}
# The layout deploy/ runs (chosen by these figures; docs/DEPLOYMENT.md quotes them).
DEPLOYED = "gunicorn-2x8"


@dataclass
class Server:
    layout: Layout
    port: int
    procs: list[ManagedProcess]
    app_name: str


def _env(pool: int, app_name: str) -> dict[str, str]:
    return bench_env() | {
        "DATABASE_POOL_MAX": str(pool),
        "PGAPPNAME": app_name,
        # The mix is the figure, not the rate limits (the throttle classes still run).
        "API_THROTTLE_USER": "100000000/hour",
        "API_THROTTLE_ANON": "100000000/hour",
    }


@contextmanager
def serving(layouts: list[Layout]) -> Iterator[list[Server]]:
    """Start every layout at once on ports of its own (idle ones cost memory, not CPU)."""
    servers: list[Server] = []
    try:
        for index, layout in enumerate(layouts):
            port = processes.free_port()
            app_name = f"{APP_NAME}-{index}"
            name = layout.name.split(" (")[0].replace(" ", "-")  # a temporary file's prefix
            procs = [ManagedProcess(name, layout.argv(port), _env(layout.pool, app_name)).start()]
            if layout.websocket_beside:
                ws = ManagedProcess(
                    "ws", daphne_argv(processes.free_port()), _env(ASGI_POOL, app_name)
                )
                procs.append(ws.start())
            servers.append(Server(layout, port, procs, app_name))
        for server in servers:
            _wait_ready(server)
        yield servers
    finally:
        for server in servers:
            for proc in server.procs:
                proc.stop()


def _wait_ready(server: Server) -> None:
    def answering() -> bool:
        for proc in server.procs:
            if proc.proc is not None and proc.proc.poll() is not None:
                raise RuntimeError(f"{proc.name} exited early:\n{proc.output()[-4000:]}")
        try:
            response = httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=5)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    processes.wait_for(answering, timeout=90, interval=0.2)


@dataclass
class Users:
    keys: list[str]
    targets: list[int]  # CONFIRMED upcoming events to view, join and leave


def prepare_users(count: int, now: datetime) -> Users:
    """`count` users with an API token each, and the events they will join."""
    User.objects.filter(username__startswith="tier-").delete()
    users = User.objects.bulk_create(
        [User(username=f"tier-{i}", password="!") for i in range(count)]
    )
    keys = [tokens.issue(user).key for user in users]
    targets = list(
        Event.objects.filter(status=Status.CONFIRMED, start_date__gt=now + timedelta(hours=2))
        .order_by("id")
        .values_list("id", flat=True)[:2000]
    )
    assert targets, "no upcoming CONFIRMED event to join"
    return Users(keys, targets)


@dataclass
class Load:
    seconds: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=dict)  # seconds, by kind of request

    @property
    def latencies(self) -> list[float]:
        return [seconds for times in self.by_kind.values() for seconds in times]

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def server_errors(self) -> int:
        return sum(n for code, n in self.statuses.items() if code >= 500)

    def summary(self) -> str:
        return (
            f"{self.rate:,.0f} req/s, p50 {ms(percentile(self.latencies, 50))}, "
            f"p99 {ms(percentile(self.latencies, 99))}, 5xx {self.server_errors}"
        )

    def record(self, kind: str, seconds: float) -> None:
        self.by_kind.setdefault(kind, []).append(seconds)

    def kinds(self) -> str:
        """p50 / p99 of each kind of request, slowest p99 first."""
        rows = sorted(self.by_kind.items(), key=lambda item: -percentile(item[1], 99))
        return ", ".join(
            f"{kind} {ms(percentile(times, 50))} / {ms(percentile(times, 99))}"
            for kind, times in rows
        )


EXPECTED = {"create": 201}
DROPPED = 599  # no response: the connection was closed or reset


async def _user(
    client: httpx.AsyncClient,
    key: str,
    targets: list[int],
    deadline: float,
    pause: float,
    load: Load,
) -> None:
    auth = {"Authorization": f"Token {key}", **PROXIED}
    rng = random.Random(key)

    async def call(kind: str, method: str, path: str, body: dict | None = None) -> dict | None:
        started = time.perf_counter()
        try:
            response = await client.request(method, path, headers=auth, json=body)
        except httpx.TransportError as error:  # a dropped connection counts as a server error
            load.record(kind, time.perf_counter() - started)
            load.statuses[DROPPED] = load.statuses.get(DROPPED, 0) + 1
            load.unexpected.append(f"{kind} {type(error).__name__}")
            return None
        load.record(kind, time.perf_counter() - started)
        load.statuses[response.status_code] = load.statuses.get(response.status_code, 0) + 1
        if response.status_code != EXPECTED.get(kind, 200):
            if len(load.unexpected) < 5:
                load.unexpected.append(f"{kind} {response.status_code} {response.text[:60]!r}")
            return None
        if pause:
            await asyncio.sleep(pause)
        return response.json() if kind == "create" else None

    while time.perf_counter() < deadline:
        target = rng.choice(targets)
        day = rng.randrange(1, 300)
        await call("discovery", "GET", "/api/events/?page_size=20")
        await call("detail", "GET", f"/api/events/{target}/")
        await call("mine", "GET", "/api/events/mine/")
        created = await call(
            "create",
            "POST",
            "/api/events/",
            {
                "title": "Tier load",
                "start_date": f"2027-{1 + day % 12:02d}-{1 + day % 28:02d}T10:00:00",
                "end_date": f"2027-{1 + day % 12:02d}-{1 + day % 28:02d}T12:00:00",
            },
        )
        if created is not None:
            await call("confirm", "POST", f"/api/events/{created['id']}/confirm/")
        await call("join", "POST", f"/api/events/{target}/join/")
        await call("leave", "POST", f"/api/events/{target}/leave/")
        if created is not None:
            await call("cancel", "POST", f"/api/events/{created['id']}/cancel/")


async def _run_load(port: int, users: Users, seconds: float, pause: float) -> Load:
    limits = httpx.Limits(
        max_connections=len(users.keys), max_keepalive_connections=len(users.keys)
    )
    load = Load()
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60
    ) as client:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(
            *(_user(client, key, users.targets, deadline, pause, load) for key in users.keys)
        )
        load.seconds = time.perf_counter() - started
    return load


class ConnectionPeak:
    """Samples pg_stat_activity every 20 ms from a thread: the web tier's peak connections."""

    def __init__(self, app_name: str) -> None:
        self.app_name = app_name
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        url = BENCH_DATABASE_URL.replace("postgres://", "postgresql://", 1)
        with psycopg.connect(url, autocommit=True) as conn:
            while not self._stop.is_set():
                (count,) = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                    [self.app_name],
                ).fetchone()  # type: ignore[misc]
                self.peak = max(self.peak, int(count))
                self._stop.wait(0.02)

    def __enter__(self) -> ConnectionPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Measured:
    layout: Layout
    loads: list[Load] = field(default_factory=list)
    peak: int = 0

    @property
    def rate(self) -> float:
        return median([load.rate for load in self.loads])

    def latency(self, p: float) -> float:
        return percentile([t for load in self.loads for t in load.latencies], p)

    @property
    def server_errors(self) -> int:
        return sum(load.server_errors for load in self.loads)

    def describe(self) -> str:
        return (
            f"{self.rate:,.0f} req/s (p50 {ms(self.latency(50))}, p99 {ms(self.latency(99))}, "
            f"5xx {self.server_errors}; PostgreSQL peak {self.peak} of pool "
            f"{self.layout.pool_total}; windows "
            + ", ".join(f"{load.rate:,.0f}" for load in self.loads)
            + ")"
        )


def saturation(
    candidates: list[str], users: int, seconds: float, repeat: int, now: datetime
) -> tuple[list[Figure], dict[str, Measured]]:
    """Every layout under the mix with no pauses, alternating windows with one Daphne."""
    prepared = prepare_users(users, now)
    layouts = [DAPHNE, *(CANDIDATES[name] for name in candidates)]
    measured = {layout.name: Measured(layout) for layout in layouts}
    # One layout at a time: all of them at once would hold more connections (their pools) than
    # PostgreSQL allows. Each window starts its layout afresh and warms it first.
    for i in range(repeat):
        for layout in layouts if i % 2 == 0 else list(reversed(layouts)):
            with serving([layout]) as (server,):
                asyncio.run(_run_load(server.port, prepared, min(seconds, 1.0), 0))  # warm-up
                with ConnectionPeak(server.app_name) as sampler:
                    load = asyncio.run(_run_load(server.port, prepared, seconds, 0))
            result = measured[layout.name]
            result.loads.append(load)
            result.peak = max(result.peak, sampler.peak)
            if load.unexpected:
                print(f"{layout.name}: unexpected responses: {'; '.join(load.unexpected)}")
    base = measured[DAPHNE.name]
    figures = []
    for name in candidates:
        ours = measured[CANDIDATES[name].name]
        ratio = ours.rate / base.rate
        figures.append(
            Figure(
                name=f"mixed API load, {users} users, no pauses: {ours.layout.name}",
                ours=f"{ours.rate:,.0f} req/s, p50 {ms(ours.latency(50))}, "
                f"p99 {ms(ours.latency(99))}, 5xx {ours.server_errors}",
                baseline=f"one Daphne {base.rate:,.0f} req/s, p50 {ms(base.latency(50))}, "
                f"p99 {ms(base.latency(99))}, 5xx {base.server_errors}",
                ratio=f"{ratio:.2f}×",
                target="≥ 4×, 0 5xx",
                met=ratio >= 4 and ours.server_errors == 0,
                notes=[
                    f"{ours.describe()}; one Daphne {base.describe()}; {seconds:g} s windows, "
                    f"{repeat} of each, alternating with the others (one running at a time); "
                    "each user repeats "
                    "discovery, detail, My Events, create, confirm, join, leave, cancel "
                    "(token auth) through one keep-alive connection; the worker consumes the "
                    "wake-ups; client, servers, PostgreSQL and Redis share the 2 cores"
                ],
            )
        )
    deployed = measured[CANDIDATES[DEPLOYED].name] if DEPLOYED in candidates else None
    if deployed is not None:
        figures.append(
            Figure(
                name=f"PostgreSQL connections of the web tier under that load: "
                f"{deployed.layout.name}",
                ours=f"peak {deployed.peak}",
                baseline=f"pool size {deployed.layout.pool_total}; one Daphne peak {base.peak} "
                f"of {base.layout.pool_total}",
                ratio=f"{deployed.peak / deployed.layout.pool_total:.2f} of the pool",
                target="≤ pool size",
                met=deployed.peak <= deployed.layout.pool_total,
                notes=[
                    "pg_stat_activity sampled every 20 ms during every window, counting the "
                    f"connections of the layout's processes (PGAPPNAME {APP_NAME}-N); pool size "
                    "= processes × DATABASE_POOL_MAX (+ the /ws/ Daphne's); peaks of the others: "
                    + "; ".join(
                        f"{m.layout.name} {m.peak} of {m.layout.pool_total}"
                        for m in measured.values()
                    )
                ],
            )
        )
    return figures, measured


def load_ending(count: int, within: float) -> list[int]:
    """`count` ONGOING events ending evenly over the next `within` seconds; wake-up scheduled."""
    now = clock.now()
    organizer = bench_user()
    step = within / count
    events = Event.objects.bulk_create(
        [
            Event(
                title=f"Ending {i}",
                organizer=organizer,
                start_date=now - timedelta(hours=1),
                end_date=now + timedelta(seconds=1 + i * step),
                status=Status.ONGOING,
            )
            for i in range(count)
        ]
    )
    scheduling.schedule_next()
    return [event.pk for event in events]


def completed_once(ids: list[int], timeout: float) -> tuple[int, int]:
    """(events COMPLETED, events with other than exactly one COMPLETED audit row)."""

    def all_done() -> bool:
        return Event.objects.filter(pk__in=ids, status=Status.COMPLETED).count() == len(ids)

    with suppress(AssertionError):  # counted below
        processes.wait_for(all_done, timeout=timeout, interval=0.5)
    done = Event.objects.filter(pk__in=ids, status=Status.COMPLETED).count()
    rows = (
        EventStatusChange.objects.filter(event_id__in=ids, to_status=Status.COMPLETED)
        .values("event_id")
        .annotate(n=Count("pk"))
    )
    counts = {row["event_id"]: row["n"] for row in rows}
    wrong = sum(1 for pk in ids if counts.get(pk, 0) != 1)
    return done, wrong


def paced(users: int, seconds: float, pause: float, ending: int, now: datetime) -> Figure:
    """The deployed layout and one Daphne at a paced load, while `ending` events end."""
    prepared = prepare_users(users, now)
    layout = CANDIDATES[DEPLOYED]
    loads: dict[str, Load] = {}
    checks: dict[str, tuple[int, int]] = {}
    for each in (layout, DAPHNE):
        with serving([each]) as (server,):
            asyncio.run(_run_load(server.port, prepared, min(seconds, 2.0), pause))  # warm-up
            ids = load_ending(ending, seconds * 0.8)
            loads[each.name] = asyncio.run(_run_load(server.port, prepared, seconds, pause))
            checks[each.name] = completed_once(ids, timeout=30)
    ours, base = loads[layout.name], loads[DAPHNE.name]
    done, wrong = checks[layout.name]
    p99 = percentile(ours.latencies, 99)
    base_p99 = percentile(base.latencies, 99)
    return Figure(
        name=f"paced API load, {users} users pausing {pause:g} s, {seconds:g} s, "
        f"{ending:,} events ending during it: {layout.name}",
        ours=ours.summary() + f"; {done:,}/{ending:,} COMPLETED, {wrong} not exactly once",
        baseline=f"one Daphne {base.summary()}; {checks[DAPHNE.name][0]:,}/{ending:,} COMPLETED, "
        f"{checks[DAPHNE.name][1]} not exactly once",
        ratio=f"p99 {p99 / base_p99:.2f}×",
        target="p99 ≤ 300 ms, 0 5xx, exactly once",
        met=p99 <= 0.3 and ours.server_errors == 0 and wrong == 0 and done == ending,
        notes=[
            "one run of each (the deployed layout first, then one Daphne), each after a warm-up; "
            "the mix of the saturation figure with a pause after every response; the worker "
            "(wake-ups) completes the events, checked in the audit rows after each run",
            f"p50 / p99 by request, {layout.name}: {ours.kinds()}; one Daphne: {base.kinds()}",
            *(
                f"unexpected responses, {name}: {'; '.join(load.unexpected)}"
                for name, load in loads.items()
                if load.unexpected
            ),
        ],
    )


def layouts_section(measured: dict[str, Measured]) -> list[str]:
    return [
        "## Serving layouts under the mixed load (no pauses)",
        "",
        "| layout | processes | req/s | p50 | p99 | 5xx | PostgreSQL peak / pool |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {m.layout.name} | {m.layout.processes}{' + 1' if m.layout.websocket_beside else ''}"
            f" | {m.rate:,.0f} | {ms(m.latency(50))} | {ms(m.latency(99))} | {m.server_errors} "
            f"| {m.peak} / {m.layout.pool_total} |"
            for m in measured.values()
        ),
        "",
    ]
