"""The sweep against raw SQL, the idle sweep against `SELECT 1`, and how sweep cost grows."""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction

from apps.events import lifecycle, realtime
from bench.common import Figure, median, timed
from bench.data import load_events, vacuum

RAW_UPDATE = (
    "UPDATE events_event SET status = 'COMPLETED', completed_at = %s, updated_at = %s "
    "WHERE status IN ('CONFIRMED', 'ONGOING') AND end_date < %s"
)


def _rolled_back(work):  # type: ignore[no-untyped-def]
    """Run `work` in a transaction that is rolled back, so every repetition sees the same rows."""

    def run():  # type: ignore[no-untyped-def]
        with transaction.atomic():
            result = work()
            transaction.set_rollback(True)
        return result

    return run


def raw_sweep(at: datetime) -> int:
    with connection.cursor() as cursor:
        cursor.execute(RAW_UPDATE, [at, at, at])
        return cursor.rowcount


def our_sweep_with_pushes(at: datetime) -> int:
    changes = lifecycle.complete_ended(at)
    # The pushes normally run on commit; the benchmark rolls back, so it runs them itself.
    realtime.publish_transitions(changes)
    return len(changes)


def sweep_vs_raw(
    total: int, due: int, repeat: int, now: datetime
) -> tuple[Figure, dict[str, float]]:
    load_events(total, due, now)
    ours_times, raw_times = [], []
    for _ in range(repeat):
        seconds, count = timed(_rolled_back(lambda: raw_sweep(now)))
        assert count == due, (count, due)
        raw_times.append(seconds)
        vacuum()
        seconds, count = timed(_rolled_back(lambda: our_sweep_with_pushes(now)))
        assert count == due, (count, due)
        ours_times.append(seconds)
        vacuum()
    ours, raw = median(ours_times), median(raw_times)
    ratio = ours / raw
    figure = Figure(
        name=f"sweep: {due:,} due among {total:,} (audit rows + pushes)",
        ours=f"{ours * 1000:.0f} ms",
        baseline=f"raw UPDATE {raw * 1000:.0f} ms",
        ratio=f"{ratio:.2f}×",
        target="≤ 1.5×",
        met=ratio <= 1.5,
    )
    return figure, {"ours": ours, "raw": raw}


def idle_sweep(total: int, repeat: int, now: datetime) -> tuple[Figure, str]:
    """Nothing due among `total` events: must be an index probe, not a scan."""
    load_events(total, 0, now)
    ours_times, base_times = [], []
    for _ in range(max(repeat, 5) * 20):
        base_times.append(timed(lambda: connection.cursor().execute("SELECT 1"))[0])
        seconds, changes = timed(lambda: lifecycle.complete_ended(now))
        assert changes == []
        ours_times.append(seconds)
    ours, base = median(ours_times), median(base_times)
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN SELECT id, status FROM events_event "
            "WHERE status IN ('CONFIRMED', 'ONGOING') AND end_date < %s",
            [now],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    ratio = ours / base
    figure = Figure(
        name=f"idle sweep (nothing due) at {total:,} events",
        ours=f"{ours * 1000:.2f} ms",
        baseline=f"SELECT 1 {base * 1000:.3f} ms",
        ratio=f"{ratio:.1f}×",
        target="≤ 10×",
        met=ratio <= 10,
        notes=["plan: " + " / ".join(line.strip() for line in plan.splitlines())],
    )
    return figure, plan


def growth(sizes: list[int], repeat: int, now: datetime) -> list[tuple[int, int, float, float]]:
    """(total, due, ours s, raw s) for each size, 10 % due."""
    rows = []
    for total in sizes:
        due = total // 10
        _, times = sweep_vs_raw(total, due, repeat, now)
        rows.append((total, due, times["ours"], times["raw"]))
    return rows
