"""10,000 reminders on the deliveries queue while events end: the transitions do not wait for them.

Two workers as deployed (one per queue, one pool process each) and no beat: each event can only
complete through a wake-up on the "celery" queue, while the one reminder task holds the
"deliveries" worker for the whole batch. On one shared queue the wake-ups would wait behind it.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from apps.events import clock, effects, scheduling
from apps.events.models import Delivery, Event, EventStatusChange
from apps.events.tests.factories import EventFactory
from apps.events.tests.test_reminders import bulk_participants
from tests.support import processes
from tests.support.mail import recipients

logger = logging.getLogger(__name__)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
Status = Event.EventStatus
PARTICIPANTS = 10_000
ENDING = 10
REMINDERS = "events.send_event_reminder_emails"


def sent() -> int:
    return Delivery.objects.filter(state=Delivery.State.SENT).count()


@pytest.mark.timeout(600)
def test_ten_thousand_reminders_on_their_queue_never_hold_up_the_transitions(
    purged_broker: None, tmp_path: Path
) -> None:
    env = processes.child_env(
        EMAIL_URL=f"filemail:///{tmp_path}",
        # An SMTP-like 5 ms per email: the batch takes far longer than the events' end times.
        EMAIL_BACKEND="tests.support.mail.SlowFileBackend",
    )
    transitions = processes.worker(env, "-c", "1", "-Q", "celery", name="transitions")
    deliveries = processes.worker(env, "-c", "1", "-Q", "deliveries", name="deliveries")
    workers = (transitions.start(), deliveries.start())
    try:
        for worker in workers:
            worker.wait_for_output("ready.", 60)
        scheduling.forget()
        start = clock.now() + timedelta(hours=1)
        reminded = EventFactory.create(start_date=start, end_date=start + timedelta(hours=1))
        addresses = bulk_participants(reminded, PARTICIPANTS)
        now = clock.now()
        ending = [
            EventFactory.create(
                status=Status.ONGOING,
                start_date=now - timedelta(hours=1),
                end_date=now + timedelta(seconds=4 + i * 0.5),
            )
            for i in range(ENDING)
        ]
        # As a join would: the reminders are due now, the first end in 4 s.
        effects.reschedule()

        processes.wait_for(lambda: sent() > 0, 60)
        processes.wait_for(
            lambda: Event.objects.filter(
                pk__in=[e.pk for e in ending], status=Status.COMPLETED
            ).count()
            == ENDING,
            120,
        )
        sent_when_all_ended = sent()
        processes.wait_for(lambda: sent() == PARTICIPANTS, 480, interval=0.5)
    finally:
        for worker in workers:
            worker.stop()

    events = list(Event.objects.filter(pk__in=[e.pk for e in ending]))
    lags = sorted(
        (e.completed_at - e.end_date).total_seconds()
        for e in events
        if e.completed_at and e.end_date
    )
    logger.info(
        "end -> COMPLETED lag p50=%.3fs max=%.3fs while %d/%d reminders were sent",
        lags[math.ceil(len(lags) / 2) - 1],
        lags[-1],
        sent_when_all_ended,
        PARTICIPANTS,
    )
    # Every event completed after its end, while the batch was still being sent.
    assert len(lags) == ENDING
    assert min(lags) > 0
    assert sent_when_all_ended < PARTICIPANTS
    # By wake-ups on the transitions worker, once each; the batch ran on the deliveries worker.
    changes = EventStatusChange.objects.filter(event__in=events)
    assert sorted(changes.values_list("source", flat=True)) == ["task"] * ENDING
    assert "task=events.wake_up" in transitions.output()
    # (both banners list every registered task: the runs are the "name[id]" lines)
    assert f"{REMINDERS}[" not in transitions.output()
    assert f"{REMINDERS}[" in deliveries.output()
    assert "events.wake_up[" not in deliveries.output()
    emails = Counter(recipients(tmp_path))
    assert set(emails) == set(addresses)
    assert max(emails.values()) == 1
