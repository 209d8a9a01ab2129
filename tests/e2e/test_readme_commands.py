"""The README's shell examples and checks, run as a user would run them."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.events.models import Event
from apps.events.tests.factories import EventFactory
from tests.support import processes

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHELL_SNIPPET = """
from apps.events.tasks import mark_ended_events_as_completed
result = mark_ended_events_as_completed()
print(f"Marked {result} events as completed")
task = mark_ended_events_as_completed.delay()
print(f"Task ID: {task.id}")
print(task.get(timeout=30))
from django_celery_beat.models import PeriodicTask
print(PeriodicTask.objects.filter(enabled=True).values('name', 'task', 'enabled', 'last_run_at'))
"""


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        env=processes.child_env(),
        cwd=processes.REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_shell_examples_run_as_shown(worker_process: processes.ManagedProcess) -> None:
    call_command("setup_event_lifecycle_tasks")
    past = timezone.now() - timedelta(minutes=1)
    EventFactory.create_batch(2, start_date=past - timedelta(hours=1), end_date=past)

    done = run(str(processes.VENV_BIN / "python"), "manage.py", "shell", "-c", SHELL_SNIPPET)

    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line and "automatically" not in line]
    assert lines[0] == "Marked 2 events as completed"
    assert lines[1].startswith("Task ID: ")
    assert lines[2] == "0"
    assert "'name': 'Mark Ended Events as Completed'" in done.stdout
    assert Event.objects.filter(status=Event.EventStatus.COMPLETED).count() == 2


def test_setup_command_runs_from_the_command_line() -> None:
    first = run(str(processes.VENV_BIN / "python"), "manage.py", "setup_event_lifecycle_tasks")
    again = run(str(processes.VENV_BIN / "python"), "manage.py", "setup_event_lifecycle_tasks")
    assert first.returncode == again.returncode == 0
    assert "created: Mark Ended Events as Completed" in first.stdout
    assert "0 periodic task(s) created or updated" in again.stdout


def test_redis_broker_database_answers_ping() -> None:
    from django.conf import settings

    done = run("redis-cli", "-u", settings.CELERY_BROKER_URL, "ping")
    assert done.stdout.strip() == "PONG"
    assert settings.CELERY_BROKER_URL.endswith("/1")
    assert settings.CHANNEL_LAYER_URL.endswith("/0")


def test_celery_command_line_tools_work(worker_process: processes.ManagedProcess) -> None:
    """`celery -A core call/result/inspect/...` set Django up before using the result backend."""
    past = timezone.now() - timedelta(minutes=1)
    EventFactory.create_batch(3, start_date=past - timedelta(hours=1), end_date=past)

    called = run(*processes.celery("call", "events.mark_ended_events_as_completed"))
    assert called.returncode == 0, called.stderr
    task_id = called.stdout.strip().splitlines()[-1]

    def result() -> str:
        done = run(*processes.celery("result", task_id))
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    processes.wait_for(lambda: result() == "3", timeout=60, interval=0.5)
    for argv in (("inspect", "ping"), ("inspect", "registered"), ("status",)):
        done = run(*processes.celery(*argv))
        assert done.returncode == 0, (argv, done.stdout, done.stderr)
    assert (
        "events.mark_ended_events_as_completed"
        in run(*processes.celery("inspect", "registered")).stdout
    )
