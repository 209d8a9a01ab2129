"""Shared plumbing of the benchmarks: a bench database, timing, child processes and the table."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]
# Never a test database and never the shared `eventide`/`eventide_bench` ones: the bench
# truncates its tables.
BENCH_DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/eventide_bench"
)


def setup_django(settings_module: str = "bench.settings") -> None:
    """Point Django at the bench database (created if missing) and migrate it."""
    import psycopg

    parts = urlsplit(BENCH_DATABASE_URL)
    name = parts.path.lstrip("/")
    if name in {"eventide", ""} or name.startswith("test_"):
        raise SystemExit(f"refusing to benchmark in database {name!r}: it would be truncated")
    admin_url = urlunsplit(
        (parts.scheme.replace("postgres", "postgresql"), parts.netloc, "/postgres", "", "")
    )
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = BENCH_DATABASE_URL
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = func()
    return time.perf_counter() - started, result


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def ms(seconds: float, digits: int = 0) -> str:
    return f"{seconds * 1000:,.{digits}f} ms"


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (peak resident) of a process, in KiB, from /proc."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            values[key] = int(rest.split()[0])
    return values


def child_pids(pid: int) -> list[int]:
    """Direct children of `pid` (a Celery worker's pool processes)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        children.extend(int(child) for child in text)
    return children


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


@dataclass
class Figure:
    name: str
    ours: str
    baseline: str
    ratio: str
    target: str
    met: bool | None
    notes: list[str] = field(default_factory=list)


def failed_figure(name: str, error: BaseException) -> Figure:
    return Figure(name, "error", "—", "—", "—", False, [f"{type(error).__name__}: {error}"])


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_table(
    figures: list[Figure], path: str | Path, header: list[str], extra_sections: list[str]
) -> str:
    today = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmarks",
        "",
        *header,
        "",
        "| figure | ours | baseline (same run) | ratio | target | met | machine | date |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        met = "—" if f.met is None else ("yes" if f.met else "**no**")
        lines.append(
            f"| {f.name} | {f.ours} | {f.baseline} | {f.ratio} | {f.target} | {met} "
            f"| {machine()} | {today} |"
        )
    notes = [f"- **{f.name}**: {note}" for f in figures for note in f.notes]
    if notes:
        lines += ["", "## Notes", "", *notes]
    lines += ["", *extra_sections]
    text = "\n".join(lines) + "\n"
    Path(path).write_text(text)
    return text


def _cpu_ticks(pid: int) -> tuple[int, int]:
    """(utime + stime, cutime + cstime) of `pid` in clock ticks, from /proc/<pid>/stat."""
    # The command name may hold spaces and parentheses: the fields start after the last ')'.
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return utime + stime, cutime + cstime


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by `pid` and all its descendants: the live ones
    each, the ones already reaped through their parent's cutime/cstime."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            own, reaped = _cpu_ticks(current)
            children = child_pids(current)
        except FileNotFoundError:  # exited meanwhile: its parent's cutime counts it once reaped
            continue
        total += own + reaped
        pending.extend(children)
    return total / os.sysconf("SC_CLK_TCK")
