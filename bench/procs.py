"""Worker, beat and Daphne for the benchmarks: the tests' helpers, on the bench database."""

from __future__ import annotations

import time

from tests.support import processes
from tests.support.processes import VENV_BIN, ManagedProcess


def bench_env(**overrides: str) -> dict[str, str]:
    """The bench process's environment for a child: bench database, bench settings, its Redis."""
    return processes.child_env(DJANGO_SETTINGS_MODULE="bench.settings", **overrides)


def started(proc: ManagedProcess, ready_text: str, timeout: float = 90) -> ManagedProcess:
    proc.start()
    proc.wait_for_output(ready_text, timeout=timeout)
    return proc


def worker(*extra: str) -> ManagedProcess:
    """The seed's worker command, with `-A bench.celery_app` so that `bench.noop` exists."""
    argv = [
        str(VENV_BIN / "celery"),
        "-A",
        "bench.celery_app",
        "worker",
        "-l",
        "info",
        "-n",
        f"bench-{time.time_ns()}@%h",
        *extra,
    ]
    return started(ManagedProcess("bench-worker", argv, bench_env()), "ready.")


def beat() -> ManagedProcess:
    return started(processes.beat(bench_env()), "beat: Starting")


def daphne(**env: str) -> tuple[ManagedProcess, int]:
    port = processes.free_port()
    proc = processes.daphne(bench_env(**env), port).start()

    def listening() -> bool:
        if proc.proc is not None and proc.proc.poll() is not None:
            raise RuntimeError(f"daphne exited early:\n{proc.output()[-4000:]}")
        return processes.port_open(port)

    processes.wait_for(listening, timeout=90)
    return proc, port
