"""A real worker refuses pickle and keeps working, logs JSON to --logfile; Flower wants a login."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django_celery_results.models import TaskResult
from kombu import Connection, Producer

from apps.events.tasks import mark_ended_events_as_completed
from tests.support import processes

pytestmark = pytest.mark.e2e


class MakesADirectoryWhenUnpickled:
    """A hostile payload: unpickling it runs os.mkdir(path)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        return (os.mkdir, (str(self.path),))


def publish_pickled_task(broker_url: str, task_name: str, payload: object) -> str:
    """A protocol-2 task message whose body is pickle, put on the default queue with plain kombu."""
    task_id = str(uuid.uuid4())
    with Connection(broker_url) as conn:
        Producer(conn).publish(
            ((payload,), {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}),
            serializer="pickle",
            exchange="celery",
            routing_key="celery",
            declare=[],
            headers={"lang": "py", "task": task_name, "id": task_id, "root_id": task_id},
            correlation_id=task_id,
        )
    return task_id


def json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


@pytest.fixture
def json_worker(
    transactional_db: None, purged_broker: None, tmp_path: Path
) -> Iterator[tuple[processes.ManagedProcess, Path]]:
    """The unit's worker command line: --logfile, LOG_FORMAT=json."""
    logfile = tmp_path / "worker.log"
    proc = processes.worker(
        processes.child_env(LOG_FORMAT="json"), "--logfile", str(logfile), "-c", "1"
    ).start()
    processes.wait_for(
        lambda: logfile.exists() and " ready." in logfile.read_text(), timeout=60, interval=0.2
    )
    yield proc, logfile
    proc.stop()


def test_worker_refuses_a_pickled_message_and_keeps_processing_json_tasks(
    json_worker: tuple[processes.ManagedProcess, Path], tmp_path: Path
) -> None:
    from django.conf import settings

    proc, logfile = json_worker
    marker = tmp_path / "pickle-payload-ran"
    pickled_id = publish_pickled_task(
        settings.CELERY_BROKER_URL,
        "events.mark_ended_events_as_completed",
        MakesADirectoryWhenUnpickled(marker),
    )

    def refused() -> bool:
        return any("pickle" in line["message"] for line in json_lines(logfile))

    processes.wait_for(refused, timeout=30, interval=0.2)
    assert mark_ended_events_as_completed.delay().get(timeout=60) == 0
    assert not marker.exists(), "the pickle payload was deserialized"
    assert not TaskResult.objects.filter(task_id=pickled_id).exists()
    assert proc.proc is not None
    assert proc.proc.poll() is None
    refusal = next(line for line in json_lines(logfile) if "pickle" in line["message"])
    assert "ContentDisallowed" in refusal["message"] or "untrusted" in refusal["message"]


def test_worker_logs_one_json_line_per_task_run_to_its_logfile(
    json_worker: tuple[processes.ManagedProcess, Path],
) -> None:
    _, logfile = json_worker
    result = mark_ended_events_as_completed.delay()
    assert result.get(timeout=60) == 0

    def run_line() -> dict | None:
        for line in json_lines(logfile):
            if line["name"] == "apps.events.tasks" and line.get("task_id") == result.id:
                return line
        return None

    line = processes.wait_for(run_line, timeout=10)
    assert line["task"] == "events.mark_ended_events_as_completed"
    assert line["count"] == 0
    assert isinstance(line["duration_ms"], float)
    assert line["levelname"] == "INFO"
    assert f"id={result.id} count=0" in line["message"]


def test_flower_runs_as_in_the_seed_behind_basic_auth_from_the_environment(
    transactional_db: None,
) -> None:
    port = processes.free_port()
    flower = processes.ManagedProcess(
        "flower",
        [
            *processes.celery("flower", f"--port={port}"),
            "--address=127.0.0.1",
        ],
        processes.child_env(FLOWER_BASIC_AUTH="ops:s3cret-pass"),
    ).start()
    try:
        base = f"http://127.0.0.1:{port}"

        def up() -> httpx.Response | None:
            try:
                return httpx.get(f"{base}/healthcheck", timeout=5)
            except httpx.TransportError:
                return None

        assert processes.wait_for(up, timeout=60, interval=0.3).status_code == 200
        assert httpx.get(f"{base}/", timeout=10).status_code == 401
        assert httpx.get(f"{base}/", auth=("ops", "wrong"), timeout=10).status_code == 401
        assert (
            httpx.get(f"{base}/workers", auth=("ops", "s3cret-pass"), timeout=10).status_code == 200
        )
    finally:
        flower.stop()


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[int]:
    """A real Redis Sentinel watching the test Redis as master `eventide-master`."""
    import shutil
    from urllib.parse import urlsplit

    from django.conf import settings

    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    master = urlsplit(settings.CELERY_BROKER_URL)
    port = processes.free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor eventide-master {master.hostname} {master.port or 6379} 1\n"
    )
    proc = processes.ManagedProcess("sentinel", [server, str(conf), "--sentinel"], {}).start()
    proc.wait_for_output("monitor master", timeout=30)
    yield port
    proc.stop()


def test_a_worker_on_a_sentinel_broker_url_consumes_tasks(
    sentinel: int, transactional_db: None, purged_broker: None
) -> None:
    env = processes.child_env(
        # The first sentinel is dead: the URL list is a failover list.
        CELERY_BROKER_URL=f"sentinel://127.0.0.1:{processes.free_port()}/1;"
        f"sentinel://127.0.0.1:{sentinel}/1",
        CELERY_BROKER_SENTINEL_MASTER="eventide-master",
    )
    check = subprocess.run(
        [sys.executable, "manage.py", "healthcheck", "--only", "broker"],
        cwd=processes.REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    worker = processes.worker(env, "-c", "1", name="sentinel").start()
    try:
        worker.wait_for_output("ready.", timeout=60)
        assert "Connected to sentinel://" in worker.output()
        # Published straight to the master's DB 1, consumed by the worker through the sentinel.
        result = mark_ended_events_as_completed.delay()
        assert result.get(timeout=60) == 0, worker.output()[-3000:]
    finally:
        worker.stop()


def test_wake_ups_are_scheduled_through_a_sentinel_broker_url(
    sentinel: int, transactional_db: None, purged_broker: None
) -> None:
    """No beat: the event can only complete through the wake-up the worker scheduled at start,
    whose de-duplication key lives in the master found through the sentinel."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.events import scheduling
    from apps.events.models import Event
    from apps.events.tests.factories import EventFactory

    scheduling.forget()
    now = timezone.now()
    ending = EventFactory.create(
        status=Event.EventStatus.ONGOING,
        start_date=now - timedelta(hours=1),
        end_date=now + timedelta(seconds=6),
    )
    env = processes.child_env(
        CELERY_BROKER_URL=f"sentinel://127.0.0.1:{sentinel}/1",
        CELERY_BROKER_SENTINEL_MASTER="eventide-master",
    )
    worker = processes.worker(env, "-c", "1", name="sentinel-wakeup").start()
    try:
        worker.wait_for_output("ready.", timeout=60)
        assert "catch-up at start: count=0" in worker.output(), worker.output()[-3000:]
        processes.wait_for(
            lambda: Event.objects.filter(pk=ending.pk, status=Event.EventStatus.COMPLETED).exists(),
            60,
        )
        worker.wait_for_output("task=events.wake_up", timeout=30)
    finally:
        worker.stop()
    output = worker.output()
    assert "wake-up failed" not in output
    assert "Signal handler" not in output


SCHEDULE_FROM_A_COMMAND = """
import django
django.setup()
from datetime import timedelta
from celery import current_app
from apps.events import clock, scheduling
assert "events.wake_up" not in current_app.tasks, "this process imported the task modules"
scheduling.forget()
assert scheduling.schedule_at(clock.now() + timedelta(hours=1), clock.now())
print("scheduled")
"""


def test_a_process_that_never_imported_the_tasks_still_schedules_wake_ups() -> None:
    """The web, the shell and commands enqueue wake-ups by name: no NotRegistered there."""
    result = subprocess.run(
        [sys.executable, "-c", SCHEDULE_FROM_A_COMMAND],
        env=processes.child_env(),
        cwd=processes.REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "scheduled" in result.stdout
