"""A worker SIGKILLed while sending 2,000 reminders, then restarted: 2,000 emails, no duplicates
but what the documented window allows (an email handed over, the COMMIT not yet sent)."""

from __future__ import annotations

import signal
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from apps.events import clock
from apps.events.messages import configuring
from apps.events.models import Delivery
from apps.events.tests.factories import EventFactory
from apps.events.tests.test_reminders import assert_each_once, bulk_participants, in_the_window
from tests.faults.conftest import send_task
from tests.faults.ledger import report
from tests.support import processes
from tests.support.mail import recipients, sent_messages

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]
REMINDERS = "events.send_event_reminder_emails"
PARTICIPANTS = 2_000


def sent_rows() -> int:
    return Delivery.objects.filter(sent_at__isnull=False).count()


def test_worker_killed_while_sending_2000_reminders_then_restarted(
    fault_env: dict[str, str], tmp_path: Path
) -> None:
    env = dict(
        fault_env,
        EMAIL_URL=f"filemail:///{tmp_path}",
        EMAIL_BACKEND="tests.support.mail.SlowFileBackend",
    )
    start = clock.now() + timedelta(hours=1)
    event = EventFactory.create(start_date=start, end_date=start + timedelta(hours=1))
    addresses = bulk_participants(event, PARTICIPANTS)

    victim = processes.worker(env, "-c", "1", name="victim").start()
    try:
        victim.wait_for_output("ready.", 60)
        send_task(env, REMINDERS)
        processes.wait_for(lambda: sent_rows() >= 500, 120)
        victim.kill(signal.SIGKILL)
        killed_at = time.monotonic()
    finally:
        victim.stop()
    before_restart = sent_rows()
    assert 500 <= before_restart < PARTICIPANTS, "the kill did not land in the middle"
    window = in_the_window(tmp_path, before_restart)

    restarted = processes.worker(env, "-c", "1", name="restarted").start()
    try:
        restarted.wait_for_output("ready.", 60)
        send_task(env, REMINDERS)
        processes.wait_for(lambda: sent_rows() == PARTICIPANTS, 180)
        recovered = time.monotonic() - killed_at
    finally:
        restarted.stop()

    sent = Counter(recipients(tmp_path))
    report(
        "worker SIGKILLed while sending reminders",
        participants=PARTICIPANTS,
        sent_before_kill=before_restart,
        emails=sum(sent.values()),
        distinct=len(sent),
        duplicates=sum(n - 1 for n in sent.values()),
        written_not_committed_at_kill=window,
        recovered_s=f"{recovered:.1f}",
    )
    assert_each_once(tmp_path, addresses, window)


def test_worker_killed_while_sending_three_rules_then_restarted(
    fault_env: dict[str, str], tmp_path: Path
) -> None:
    """Several rules due at once: every (rule, participant) email once, duplicates only within
    the documented window, each with its own Message-ID."""
    env = dict(
        fault_env,
        EMAIL_URL=f"filemail:///{tmp_path}",
        EMAIL_BACKEND="tests.support.mail.SlowFileBackend",
    )
    start = clock.now() + timedelta(minutes=30)
    event = EventFactory.create(start_date=start, end_date=start + timedelta(hours=1))
    for minutes in (40, 50):  # with the default 24 h reminder: three rules, all due now
        configuring.create_rule(event.pk, kind="reminder", offset=timedelta(minutes=minutes))
    participants = 600
    addresses = bulk_participants(event, participants)
    total = 3 * participants

    victim = processes.worker(env, "-c", "1", name="victim").start()
    try:
        victim.wait_for_output("ready.", 60)
        send_task(env, REMINDERS)
        processes.wait_for(lambda: sent_rows() >= 500, 120)
        victim.kill(signal.SIGKILL)
    finally:
        victim.stop()
    before_restart = sent_rows()
    assert 500 <= before_restart < total, "the kill did not land in the middle"
    window = in_the_window(tmp_path, before_restart)

    restarted = processes.worker(env, "-c", "1", name="restarted").start()
    try:
        restarted.wait_for_output("ready.", 60)
        send_task(env, REMINDERS)
        processes.wait_for(lambda: sent_rows() == total, 180)
    finally:
        restarted.stop()

    by_message = Counter(message["Message-ID"] for message in sent_messages(tmp_path))
    per_person = Counter(recipients(tmp_path))
    report(
        "worker SIGKILLed while sending three rules",
        participants=participants,
        deliveries=total,
        sent_before_kill=before_restart,
        emails=sum(by_message.values()),
        duplicates=sum(n - 1 for n in by_message.values()),
        written_not_committed_at_kill=window,
    )
    assert len(by_message) == total
    assert sum(n - 1 for n in by_message.values()) == window
    assert set(per_person) == set(addresses)
    assert sum(per_person.values()) == total + window
    assert Delivery.objects.filter(state="sent").count() == total
