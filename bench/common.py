"""Shared plumbing of the benchmarks: a bench database, bulk data in SQL, timing and the table."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

BENCH_DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/eventide_bench"
)


def setup_django() -> None:
    """Point Django at the bench database (created if missing) and migrate it."""
    import psycopg

    parts = urlsplit(BENCH_DATABASE_URL)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(
        (parts.scheme.replace("postgres", "postgresql"), parts.netloc, "/postgres", "", "")
    )
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = BENCH_DATABASE_URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
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
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Figure:
    name: str
    ours: str
    baseline: str
    ratio: str
    target: str
    met: bool | None
    notes: list[str] = field(default_factory=list)


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_table(figures: list[Figure], path: str, extra_sections: list[str]) -> str:
    today = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`make bench-smoke` runs the same code at tiny sizes in CI).",
        "Every figure is a median of repeated runs; where a baseline makes sense it is measured",
        "in the same run, alternating with ours, so the ratio holds on a noisy machine.",
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
    with open(path, "w") as out:
        out.write(text)
    return text
