"""`make bench` / `make bench-smoke`: run every figure and write the table.

    BENCH_DATABASE_URL=postgres://.../eventide_benchwork python bench/run.py [--smoke]

The bench database is truncated and refilled; the worker, beat and Daphne it starts use it and
the Redis of REDIS_URL. A missed target is a row of the table, never an exit status: the exit
status is non-zero only when a figure could not be measured (the code is broken).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import pstats
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

# The repository root, not bench/ (whose module names must not shadow the stdlib).
sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.common import REPO, Figure, failed_figure, load_average, setup_django  # noqa: E402


@dataclass(frozen=True)
class Sizes:
    total: int
    due: int
    repeat: int
    growth: list[int]
    lag_events: int
    lag_spacing_ms: int
    endings_events: int
    endings_window_s: float
    dispatch_pairs: int
    http_events_small: int
    http_seconds: float
    http_connections: int
    far_page: int
    ws_clients: int
    ws_transitions: int
    reminders: int
    webhooks: int
    tier_users: int
    tier_seconds: float
    tier_repeat: int
    tier_candidates: list[str]
    paced_seconds: float
    paced_ending: int


SIZES = {
    "full": Sizes(
        total=1_000_000,
        due=100_000,
        repeat=5,
        growth=[10_000, 100_000],
        lag_events=200,
        lag_spacing_ms=50,
        endings_events=10_000,
        endings_window_s=60.0,
        dispatch_pairs=200,
        http_events_small=1_000,
        http_seconds=2.0,
        http_connections=16,
        far_page=10_000,
        ws_clients=1_000,
        ws_transitions=1_000,
        reminders=10_000,
        webhooks=5_000,
        tier_users=50,
        tier_seconds=6.0,
        tier_repeat=3,
        tier_candidates=["gunicorn-2x8", "gunicorn-4x4", "uvicorn-2"],
        paced_seconds=60.0,
        paced_ending=1_000,
    ),
    "smoke": Sizes(
        total=2_000,
        due=200,
        repeat=2,
        growth=[1_000],
        lag_events=10,
        lag_spacing_ms=50,
        endings_events=50,
        endings_window_s=3.0,
        dispatch_pairs=5,
        http_events_small=500,
        http_seconds=0.3,
        http_connections=4,
        far_page=20,
        ws_clients=20,
        ws_transitions=50,
        reminders=100,
        webhooks=100,
        tier_users=4,
        tier_seconds=0.5,
        tier_repeat=1,
        tier_candidates=["gunicorn-2x8"],
        paced_seconds=1.0,
        paced_ending=20,
    ),
}


class Run:
    """Collects figures and sections; a figure that raises is recorded as an error row."""

    def __init__(self) -> None:
        self.figures: list[Figure] = []
        self.sections: list[str] = []
        self.errors = 0

    def figure(self, name: str, measure: Callable[[], Figure]) -> Figure | None:
        started = time.perf_counter()
        try:
            figure = measure()
        except Exception as exc:
            traceback.print_exc()
            self.errors += 1
            figure = failed_figure(name, exc)
            self.figures.append(figure)
            return None
        self.figures.append(figure)
        print(f"[{time.perf_counter() - started:5.1f} s] {figure}", flush=True)
        return figure

    def step(self, name: str, work: Callable[[], None]) -> bool:
        try:
            work()
        except Exception as exc:
            traceback.print_exc()
            self.errors += 1
            self.figures.append(failed_figure(name, exc))
            return False
        return True


def profile_reminders(count: int) -> list[str]:
    """cProfile of one reminder run: where an email's time goes (the figure furthest off)."""
    from django.conf import settings

    from apps.events import clock
    from bench import reminders

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    now = clock.now()
    event_id = reminders.load_participants(count, now)
    profiler = cProfile.Profile()
    profiler.runcall(reminders.send_once, event_id, now)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
    body = out.getvalue()
    body = body[body.index("ncalls") :] if "ncalls" in body else body
    return [
        f"## Profile: one reminder run of {count:,} emails (cProfile, by own time)",
        "",
        "```",
        body.replace(str(REPO) + "/", "").replace(sys.prefix + "/lib/python3.11/", "").rstrip(),
        "```",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves the code runs")
    parser.add_argument("--out", default=None, help="where to write the table")
    args = parser.parse_args()
    size = SIZES["smoke" if args.smoke else "full"]
    # One INFO line per request of the load generator would bury the figures.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # The smoke table is not committed (var/ is ignored): CI must not leave the tree dirty.
    out = Path(args.out or ("var/BENCHMARKS.smoke.md" if args.smoke else "bench/BENCHMARKS.md"))
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    load_before = load_average()

    setup_django()
    from apps.events import clock
    from bench import celery_figures, discovery, procs, reminders, sweep, tier, webhooks, ws
    from bench.common import write_table
    from bench.data import load_events

    now = clock.now()
    run = Run()
    growth_rows: list[tuple[int, int, float, float]] = []
    page_rows: dict[int, list[tuple[str, float]]] = {}

    def deployed_discovery(events: int) -> None:
        """The discovery rows again on the layout deploy/ runs for HTTP (tier.DEPLOYED)."""
        layout = tier.CANDIDATES[tier.DEPLOYED]
        label = layout.name.split(" (")[0] + " (deployed)"
        measure = (size.repeat, size.http_seconds, size.http_connections, label)
        with tier.serving([layout]) as (server,):
            run.figure(
                f"discovery list {label}",
                lambda: discovery.list_vs_bare(server.port, events, *measure)[0],
            )
            run.figure(
                f"discovery list vs plain DRF {label}",
                lambda: discovery.list_vs_plain(server.port, events, *measure),
            )

    # 1. The big sweep, 1M events of which 100k due (rolled back after each repetition).
    def big_sweep() -> Figure:
        figure, times = sweep.sweep_vs_raw(size.total, size.due, size.repeat, now)
        growth_rows.append((size.total, size.due, times["ours"], times["raw"]))
        return figure

    run.figure("sweep", big_sweep)
    # The same 100k due with one webhook endpoint subscribed, on the rows just loaded.
    run.figure(
        "sweep with endpoint",
        lambda: webhooks.sweep_with_endpoint(size.total, size.due, size.repeat, now, load=False),
    )

    # 2. One worker for the rest: it really sweeps those 100k (memory), then nothing is due.
    celery_figures.fresh_broker()
    worker = procs.worker()
    try:
        run.figure(
            "worker memory", lambda: celery_figures.worker_memory(worker, size.total, size.due)
        )

        def idle() -> Figure:
            figure, plan = sweep.idle_sweep(size.total, size.repeat, now, load=False)
            run.sections += [
                "## Idle sweep plan (the sweep's own statement)",
                "",
                "```",
                plan,
                "```",
                "",
            ]
            return figure

        run.figure("idle sweep", idle)
        run.figure("task round trip", lambda: celery_figures.dispatch_overhead(size.dispatch_pairs))

        # 3. HTTP and WebSocket on the big table, through one Daphne.
        ws.raise_fd_limit(size.ws_clients * 4 + 512)
        daphne, port = procs.daphne()
        try:
            api = discovery.api_available()
            if api:
                run.figure(
                    "discovery list",
                    lambda: discovery.list_vs_bare(
                        port, size.total, size.repeat, size.http_seconds, size.http_connections
                    )[0],
                )
                run.figure(
                    "discovery list vs plain DRF",
                    lambda: discovery.list_vs_plain(
                        port, size.total, size.repeat, size.http_seconds, size.http_connections
                    ),
                )
                run.step(
                    "list latency",
                    lambda: page_rows.__setitem__(
                        size.total, discovery.page_latency(port, size.far_page, 30)
                    ),
                )
                deployed_discovery(size.total)
            else:
                run.figures.append(
                    Figure(
                        "discovery list GET /api/events/",
                        "not measured",
                        "—",
                        "—",
                        "≥ 0.5×, flat 1k → 1M",
                        None,
                        ["the HTTP API (apps/events/api, issue 5) is not on this branch yet"],
                    )
                )

            def websocket() -> Figure:
                stock, stock_port = procs.daphne(BENCH_CHANNEL_LAYER=ws.STOCK_LAYER)
                try:
                    return ws.commit_to_message(
                        ws.server(daphne, port),
                        ws.server(stock, stock_port),
                        size.ws_clients,
                        size.ws_transitions,
                    )
                finally:
                    stock.stop()

            run.figure("websocket", websocket)

            # The same per process on two Daphne processes sharing the channel layer.
            def two_daphnes() -> Figure:
                second, second_port = procs.daphne()
                try:
                    return ws.two_processes(
                        [ws.server(daphne, port), ws.server(second, second_port)],
                        size.ws_clients,
                        size.ws_transitions,
                    )
                finally:
                    second.stop()

            run.figure("websocket 2 processes", two_daphnes)

            # 4. Timeliness with worker and beat, still on the big table.
            celery_figures.prepare_beat()
            beat = procs.beat()
            # Many endings within a minute. The lead covers enqueueing the baseline's countdown
            # tasks (10,000 took more than 10 s); ours gets the same, so both runs last as long.
            endings_lead = timedelta(seconds=5 + size.endings_events / 400)
            endings: list[celery_figures.EndingRun] = []

            def endings_ours() -> Figure:
                endings.append(
                    celery_figures.endings_ours(
                        worker, size.endings_events, size.endings_window_s, endings_lead
                    )
                )
                return celery_figures.endings_figure(endings[0])

            try:
                run.figure(
                    "lag",
                    lambda: celery_figures.completion_lag(
                        size.lag_events, size.lag_spacing_ms, timedelta(seconds=5)
                    ),
                )
                run.figure("endings lag", endings_ours)
            finally:
                beat.stop()
            # The same endings with one countdown task each: beat stopped, no wake-up pending.
            if endings:
                run.figure(
                    "endings countdown",
                    lambda: celery_figures.endings_countdown(worker, endings[0], endings_lead)[0],
                )

            # 5. Discovery list again on a small table: is it flat?
            if api:

                def small_list() -> Figure:
                    load_events(size.http_events_small, 0, now)
                    figure, _ = discovery.list_vs_bare(
                        port,
                        size.http_events_small,
                        size.repeat,
                        size.http_seconds,
                        size.http_connections,
                    )
                    page_rows[size.http_events_small] = discovery.page_latency(port, 2, 30)
                    return figure

                run.figure("discovery list small", small_list)
                run.figure(
                    "discovery list vs plain DRF small",
                    lambda: discovery.list_vs_plain(
                        port,
                        size.http_events_small,
                        size.repeat,
                        size.http_seconds,
                        size.http_connections,
                    ),
                )
                deployed_discovery(size.http_events_small)

                # 6. The serving layouts under the mixed load, on that small table.
                def layouts() -> None:
                    figures, measured = tier.saturation(
                        size.tier_candidates,
                        size.tier_users,
                        size.tier_seconds,
                        size.tier_repeat,
                        now,
                    )
                    run.figures.extend(figures)
                    run.sections.extend(tier.layouts_section(measured))

                run.step("serving layouts", layouts)
                run.figure(
                    "paced load",
                    lambda: tier.paced(
                        size.tier_users, size.paced_seconds, 0.5, size.paced_ending, now
                    ),
                )
        finally:
            daphne.stop()
    finally:
        worker.stop()

    # 7. Reminders in this process, to the locmem backend; then its profile.
    run.figure("reminders", lambda: reminders.reminder_throughput(size.reminders, size.repeat, now))
    run.figure("messages", lambda: reminders.messages_throughput(size.reminders, size.repeat, now))
    run.figure("reschedule", lambda: reminders.reschedule_vs_raw(size.reminders, size.repeat, now))
    # 7. Webhooks through the relay in this process, to a receiver process (no worker runs now).
    run.figure("webhooks", lambda: webhooks.relay_throughput(size.webhooks, size.repeat))
    run.step("profile", lambda: run.sections.extend(profile_reminders(size.reminders)))

    # 8. How the sweep grows.
    run.step("growth", lambda: growth_rows.extend(sweep.growth(size.growth, size.repeat, now)))
    growth_rows.sort()
    run.sections += [
        "## How sweep cost grows (10 % due)",
        "",
        "| events | due | ours | raw UPDATE | ratio |",
        "|---|---|---|---|---|",
        *(
            f"| {total:,} | {due:,} | {ours * 1000:,.0f} ms | {raw * 1000:,.0f} ms "
            f"| {ours / raw:.2f}× |"
            for total, due, ours, raw in growth_rows
        ),
        "",
    ]
    if page_rows:
        run.sections += discovery.page_latency_section(dict(sorted(page_rows.items())))

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
    ).stdout.strip()
    kind = (
        "tiny sizes: proves the code runs, the figures mean nothing" if args.smoke else "full sizes"
    )
    header = [
        f"Written by `make {'bench-smoke' if args.smoke else 'bench'}` ({kind}) "
        f"at commit {commit or 'unknown'} in {time.perf_counter() - started:.0f} s. "
        "Every ratio is against a baseline measured in the same run, alternating with ours, and "
        f"every figure is a median of at least {size.repeat} repetitions unless its note says "
        "otherwise. PostgreSQL 15 and Redis 7 on the same machine.",
        "",
        f"Load average (1/5/15 min) at the start {load_before}, at the end {load_average()}: "
        "the machine is shared with other agents' tests, so absolute times are noisy; the ratios "
        "are what to compare.",
    ]
    print(write_table(run.figures, out, header, run.sections))
    if run.errors:
        print(f"{run.errors} figure(s) could not be measured", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
