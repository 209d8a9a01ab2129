"""Redis and the database go away while worker and beat run: they recover on their own."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.events.models import Event
from apps.events.tests.factories import EventFactory
from tests.faults.conftest import send_task
from tests.faults.ledger import ledger, report
from tests.faults.test_worker_crash import (
    create_due_events,
    frozen_audit_table,
    ready_worker,
    sweep_waiting_on_lock,
)
from tests.support import processes
from tests.support.beat import run_only
from tests.support.faults import RedisServer, TcpProxy

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]
Status = Event.EventStatus
SWEEP = "events.mark_ended_events_as_completed"


def ending_in(seconds: float) -> Event:
    now = timezone.now()
    return EventFactory.create(
        status=Status.ONGOING,
        start_date=now - timedelta(hours=1),
        end_date=now + timedelta(seconds=seconds),
    )


def completed(event: Event) -> bool:
    return Event.objects.filter(pk=event.pk, status=Status.COMPLETED).exists()


def test_redis_killed_for_30s_and_restarted_empty_worker_and_beat_resume(
    fault_env: dict[str, str], redis_server: RedisServer
) -> None:
    run_only({SWEEP: 1})
    worker = processes.worker(fault_env).start()
    beat = processes.beat(fault_env).start()
    try:
        worker.wait_for_output("ready.", 60)
        before = ending_in(1)
        processes.wait_for(lambda: completed(before), 30)

        redis_server.kill()
        time.sleep(30)
        redis_server.start()
        restarted_at = time.monotonic()
        after = ending_in(0.5)
        processes.wait_for(lambda: completed(after), 90)
        resumed = time.monotonic() - restarted_at

        assert worker.proc is not None, "worker exited"
        assert worker.proc.poll() is None, "worker exited"
        assert beat.proc is not None, "beat exited"
        assert beat.proc.poll() is None, "beat exited"
        # Still consuming, not merely reconnected: a second event goes through as well.
        again = ending_in(0.5)
        processes.wait_for(lambda: completed(again), 30)
    finally:
        beat.stop()
        worker.stop()
    report(
        "Redis down 30 s, restarted empty",
        resumed_after_restart_s=f"{resumed:.1f}",
        worker_alive=True,
        beat_alive=True,
        duplicates=ledger().duplicates,
    )
    assert ledger().duplicates == 0


def test_database_unreachable_for_20s_during_a_sweep_retries_and_succeeds(
    fault_env: dict[str, str], db_proxy: TcpProxy
) -> None:
    due = 2_000
    worker = ready_worker(fault_env)
    create_due_events(due)
    lock = frozen_audit_table()
    try:
        send_task(fault_env, SWEEP)
        processes.wait_for(sweep_waiting_on_lock, 30)
        db_proxy.cut()
        cut_at = time.monotonic()
        lock.rollback()
        # Nothing half-done: the statement that lost its client never commits.
        time.sleep(2)
        assert ledger().completed == 0
        time.sleep(18)
        db_proxy.restore()
        processes.wait_for(lambda: ledger().completed == due, 90)
        recovered = time.monotonic() - cut_at
    finally:
        lock.close()
        worker.stop()
    book = ledger()
    retries = worker.output().count("Retry in")
    report(
        "database unreachable 20 s during a sweep",
        events=due,
        completed=book.completed,
        duplicates=book.duplicates,
        retries=retries,
        recovered_after_cut_s=f"{recovered:.1f}",
    )
    assert (book.completed, book.audit_rows, book.most_rows_for_one_event) == (due, due, 1)
    assert retries >= 1
