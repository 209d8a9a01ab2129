"""A worker SIGKILLed in the middle of a 20,000-event sweep: everything completed exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import timedelta

import psycopg
import pytest
from django.utils import timezone

from apps.events.models import Event
from apps.events.tests.factories import UserFactory
from tests.faults.conftest import send_task
from tests.faults.ledger import ledger, report
from tests.support import processes
from tests.support.beat import run_only

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]
Status = Event.EventStatus
DUE = 20_000
SWEEP = "events.mark_ended_events_as_completed"


def create_due_events(count: int) -> None:
    organizer = UserFactory.create()
    end = timezone.now() - timedelta(minutes=5)
    Event.objects.bulk_create(
        (
            Event(
                title=f"due {i}",
                organizer=organizer,
                start_date=end - timedelta(hours=1),
                end_date=end,
                status=Status.ONGOING if i % 2 else Status.CONFIRMED,
            )
            for i in range(count)
        ),
        batch_size=5000,
    )


def ready_worker(env: dict[str, str]) -> processes.ManagedProcess:
    """A one-process worker past its catch-up at start (stopped if it never gets there).

    Due events are created after it: its catch-up would sweep them itself, or wait on the lock.
    """
    worker = processes.worker(env, "-c", "1").start()
    try:
        worker.wait_for_output("ready.", 60)
    except BaseException:
        worker.stop()
        raise
    return worker


def frozen_audit_table() -> psycopg.Connection:
    """A transaction holding SHARE on the audit table: a sweep's INSERT waits on it, mid-task."""
    conn = psycopg.connect(processes.test_database_url().replace("postgres://", "postgresql://"))
    conn.execute("LOCK TABLE events_eventstatuschange IN SHARE MODE")
    return conn


def sweep_waiting_on_lock() -> bool:
    with psycopg.connect(
        processes.test_database_url().replace("postgres://", "postgresql://"), autocommit=True
    ) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE query LIKE '%%WITH due%%' AND wait_event_type = 'Lock'"
        ).fetchone()
    return bool(row and row[0])


def pool_children(main_pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(main_pid)], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def test_pool_child_killed_mid_sweep_the_message_is_requeued_and_finishes(
    fault_env: dict[str, str],
) -> None:
    worker = ready_worker(fault_env)
    create_due_events(DUE)
    lock = frozen_audit_table()
    try:
        assert worker.proc is not None
        send_task(fault_env, SWEEP)
        processes.wait_for(sweep_waiting_on_lock, 30)
        (child,) = pool_children(worker.proc.pid)
        os.kill(child, signal.SIGKILL)
        killed_at = time.monotonic()
        lock.rollback()

        processes.wait_for(lambda: ledger().completed == DUE, 120)
        recovered = time.monotonic() - killed_at
        processes.wait_for(lambda: "WorkerLostError" in worker.output(), 10)
    finally:
        lock.close()
        worker.stop()
    book = ledger()
    report(
        "pool child SIGKILLed mid sweep",
        events=DUE,
        completed=book.completed,
        audit_rows=book.audit_rows,
        duplicates=book.duplicates,
        recovered_s=f"{recovered:.1f}",
    )
    assert (book.completed, book.audit_rows, book.most_rows_for_one_event) == (DUE, DUE, 1)


def test_whole_worker_killed_mid_sweep_then_restarted_completes_everything_once(
    fault_env: dict[str, str],
) -> None:
    run_only({SWEEP: 1})  # no beat runs until after the kill

    worker = ready_worker(fault_env)
    create_due_events(DUE)
    lock = frozen_audit_table()
    try:
        send_task(fault_env, SWEEP)
        processes.wait_for(sweep_waiting_on_lock, 30)
        worker.kill(signal.SIGKILL)
        killed_at = time.monotonic()
        lock.rollback()
    finally:
        lock.close()
    # The message of the killed worker stays unacked until the visibility timeout: the
    # restarted worker's catch-up at start, or beat's periodic sweep, is what finishes the work.
    restarted = processes.worker(fault_env, "-c", "1").start()
    beat = processes.beat(fault_env).start()
    try:
        processes.wait_for(lambda: ledger().completed == DUE, 120)
        recovered = time.monotonic() - killed_at
    finally:
        beat.stop()
        restarted.stop()
    book = ledger()
    report(
        "whole worker SIGKILLed mid sweep, restarted",
        events=DUE,
        completed=book.completed,
        audit_rows=book.audit_rows,
        duplicates=book.duplicates,
        recovered_s=f"{recovered:.1f}",
    )
    assert (book.completed, book.audit_rows, book.most_rows_for_one_event) == (DUE, DUE, 1)
