"""Beat's heartbeat (CONTRACT §8): /healthz `checks.scheduler`, the admin banner, the command."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from apps.events import clock
from core import heartbeat
from tests.support import processes
from tests.support.beat import run_only

pytestmark = pytest.mark.django_db


def every(seconds: int, name: str = "sweep", enabled: bool = True) -> PeriodicTask:
    interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
    return PeriodicTask.objects.create(
        name=name, task="events.mark_started_events_as_ongoing", interval=interval, enabled=enabled
    )


def test_nothing_scheduled_on_an_interval_is_never_stale() -> None:
    assert heartbeat.scheduler_status().state == heartbeat.OK


def test_stale_after_twice_the_shortest_enabled_interval() -> None:
    every(60)
    every(10, name="disabled", enabled=False)
    every(300, name="slow")
    heartbeat.record_tick()
    status = heartbeat.scheduler_status()
    assert (status.state, status.stale_after) == (heartbeat.OK, timedelta(seconds=120))
    with time_machine.travel(clock.now() + timedelta(seconds=119)):
        assert heartbeat.scheduler_status().state == heartbeat.OK
    with time_machine.travel(clock.now() + timedelta(seconds=121)):
        assert heartbeat.scheduler_status().state == heartbeat.STALE


def test_a_beat_that_never_ticked_is_stale() -> None:
    every(60)
    assert heartbeat.scheduler_status().state == heartbeat.STALE


def test_only_the_beat_process_records_published_tasks() -> None:
    heartbeat.on_task_published()
    assert heartbeat.last_tick() is None


def healthz(client: Client) -> tuple[int, dict]:
    response = client.get("/healthz")
    return response.status_code, response.json()


def test_healthz_is_degraded_but_200_when_beat_is_stale(
    transactional_db: None, client: Client
) -> None:
    every(60)
    heartbeat.record_tick(clock.now() - timedelta(minutes=5))
    status, body = healthz(client)
    assert status == 200
    assert body == {
        "status": "degraded",
        "checks": {"database": "ok", "broker": "ok", "channel_layer": "ok", "scheduler": "stale"},
    }
    heartbeat.record_tick()
    assert healthz(client) == (
        200,
        {
            "status": "ok",
            "checks": {"database": "ok", "broker": "ok", "channel_layer": "ok", "scheduler": "ok"},
        },
    )


def manage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=processes.REPO,
        env=processes.child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_healthcheck_fails_on_a_stale_scheduler_only_when_asked(transactional_db: None) -> None:
    every(60)
    heartbeat.record_tick(clock.now() - timedelta(minutes=5))
    plain = manage("healthcheck")
    assert plain.returncode == 0, plain.stderr
    assert '"status": "degraded"' in plain.stdout
    strict = manage("healthcheck", "--only", "scheduler", "--fail-on-stale-scheduler")
    assert strict.returncode == 1
    assert '"scheduler": "stale"' in strict.stdout
    heartbeat.record_tick()
    assert manage("healthcheck", "--fail-on-stale-scheduler").returncode == 0


def banner(client: Client) -> bool:
    page = client.get("/admin/")
    assert page.status_code == 200
    return 'id="scheduler-stale"' in page.content.decode()


@pytest.mark.e2e
def test_a_stopped_beat_turns_stale_and_the_restarted_one_ok(
    transactional_db: None, purged_broker: None, admin_client: Client
) -> None:
    """A 2 s schedule: beat stopped for more than 4 s is stale; started again, it is ok."""
    run_only({"events.mark_started_events_as_ongoing": 2})
    beat = processes.beat(processes.child_env()).start()
    try:
        beat.wait_for_output("beat: Starting", timeout=60)
        processes.wait_for(lambda: healthz(admin_client)[1]["status"] == "ok", timeout=30)
        assert not banner(admin_client)
        first = heartbeat.last_tick()
        processes.wait_for(lambda: heartbeat.last_tick() != first, timeout=30)  # ticks go on
    finally:
        beat.stop()

    processes.wait_for(lambda: healthz(admin_client)[1]["status"] == "degraded", timeout=30)
    status, body = healthz(admin_client)
    assert status == 200
    assert body["checks"]["scheduler"] == "stale"
    assert banner(admin_client)

    restarted = processes.beat(processes.child_env()).start()
    try:
        restarted.wait_for_output("beat: Starting", timeout=60)
        processes.wait_for(lambda: healthz(admin_client)[1]["status"] == "ok", timeout=30)
        assert not banner(admin_client)
    finally:
        restarted.stop()
