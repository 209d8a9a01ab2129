"""Real Eventide processes (worker, beat, Daphne) started by tests against the test database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from django.db import connection

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def test_database_url() -> str:
    """DATABASE_URL of the database pytest-django created, for child processes."""
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or 5432
    return f"postgres://{s['USER']}{password}@{host}:{port}/{s['NAME']}"


def child_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="core.settings.test",
        DATABASE_URL=test_database_url(),
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


class ManagedProcess:
    """A child process in its own process group, its output kept in a temporary log file."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str]) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.log = Path(tempfile.mkstemp(prefix=f"eventide-{name}-", suffix=".log")[1])
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=REPO,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_output(self, text: str, timeout: float = 30) -> None:
        def seen() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited early:\n{self.output()[-4000:]}")
            return text in self.output()

        try:
            wait_for(seen, timeout, interval=0.1)
        except AssertionError as exc:
            raise AssertionError(f"{self.name}: {exc}; output:\n{self.output()[-4000:]}") from None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the whole process group (the worker's pool children included)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 15) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.kill(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)
            self.proc.wait(5)


def celery(*args: str) -> list[str]:
    return [str(VENV_BIN / "celery"), "-A", "core", *args]


def worker(env: dict[str, str], *extra: str, name: str = "worker") -> ManagedProcess:
    """`celery -A core worker -l info`, the seed's command, with a unique node name."""
    argv = celery("worker", "-l", "info", "-n", f"{name}-{os.getpid()}-{time.time_ns()}@%h", *extra)
    return ManagedProcess(name, argv, env)


def beat(env: dict[str, str]) -> ManagedProcess:
    """`celery -A core beat -l info --scheduler django_celery_beat.schedulers:DatabaseScheduler`."""
    schedule_dir = tempfile.mkdtemp(prefix="eventide-beat-")
    argv = celery(
        "beat",
        "-l",
        "info",
        "--scheduler",
        "django_celery_beat.schedulers:DatabaseScheduler",
        "--pidfile",
        os.path.join(schedule_dir, "beat.pid"),
    )
    return ManagedProcess("beat", argv, env)


def daphne(env: dict[str, str], port: int) -> ManagedProcess:
    """`daphne -b 127.0.0.1 -p PORT core.asgi:application`, the seed's server on a free port."""
    argv = [str(VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "core.asgi:application"]
    return ManagedProcess("daphne", argv, env)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def runserver(env: dict[str, str], port: int) -> ManagedProcess:
    """`manage.py runserver`, which is Daphne's (ASGI, WebSockets) since daphne is installed."""
    argv = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    return ManagedProcess("runserver", argv, env)
