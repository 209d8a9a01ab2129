"""`make bench` / `make bench-smoke`: run every figure and write bench/BENCHMARKS.md."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Figure, setup_django

SIZES = {
    "full": {
        "total": 1_000_000,
        "due": 100_000,
        "repeat": 5,
        "growth": [10_000, 100_000, 1_000_000],
    },
    "smoke": {"total": 2_000, "due": 200, "repeat": 2, "growth": [1_000, 2_000]},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves the code runs")
    parser.add_argument("--out", default=None, help="where to write the table")
    args = parser.parse_args()
    size = SIZES["smoke" if args.smoke else "full"]
    out = args.out or ("bench/BENCHMARKS.smoke.md" if args.smoke else "bench/BENCHMARKS.md")

    setup_django()
    from apps.events import lifecycle
    from bench import sweep
    from bench.common import write_table

    now = lifecycle.now()
    figures: list[Figure] = []
    sections: list[str] = []

    figure, _ = sweep.sweep_vs_raw(size["total"], size["due"], size["repeat"], now)
    figures.append(figure)
    print(figure, flush=True)

    figure, plan = sweep.idle_sweep(size["total"], size["repeat"], now)
    figures.append(figure)
    print(figure, flush=True)
    sections += ["## Idle sweep plan", "", "```", plan, "```", ""]

    rows = sweep.growth(size["growth"], size["repeat"], now)
    sections += [
        "## How sweep cost grows (10 % due)",
        "",
        "| events | due | ours | raw UPDATE | ratio |",
        "|---|---|---|---|---|",
        *(
            f"| {total:,} | {due:,} | {ours * 1000:.0f} ms | {raw * 1000:.0f} ms "
            f"| {ours / raw:.2f}× |"
            for total, due, ours, raw in rows
        ),
        "",
    ]
    print(write_table(figures, out, sections))
    if os.environ.get("BENCH_FAIL_ON_ERROR"):
        sys.exit(0)


if __name__ == "__main__":
    main()
