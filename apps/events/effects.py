"""What happens after a change commits: counting it (/metrics), live pushes, the next wake-up.

Called by the domain functions inside their transaction; the work runs only once it has
committed, so a socket or a task never sees a change that was rolled back, and a failure here
never undoes one. Deliveries that must survive a crash are not effects: they are rows written in
the transaction itself (apps.webhooks.outbox); the effect is only the relay's wake-up.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence

from celery import current_app
from django.db import transaction

from apps.events import realtime, scheduling
from apps.events.transitions import Transition
from apps.webhooks.relay import RELAY_TASK
from core import metrics

logger = logging.getLogger(__name__)


def announce_after_commit(changes: Sequence[Transition]) -> None:
    """After a manual transition: push it, and reschedule (a confirm adds a due start)."""
    if changes:
        transaction.on_commit(lambda: count(changes, metrics.MANUAL))
        transaction.on_commit(lambda: announce(list(changes)))


def push_after_commit(changes: Sequence[Transition]) -> None:
    """After a sweep: push only. Whoever runs sweeps (a task, a wake-up) reschedules once after
    all of them, rather than once per sweep."""
    if changes:
        transaction.on_commit(lambda: count(changes, metrics.AUTOMATIC))
        transaction.on_commit(lambda: push(list(changes)))


def count(changes: Sequence[Transition], source: str) -> None:
    """Count the changes for /metrics. Never raises: the transitions are already saved."""
    try:
        metrics.count_transitions(changes, source)
    except Exception:
        logger.warning("counting %d status changes failed", len(changes), exc_info=True)


def announce(changes: list[Transition]) -> None:
    push(changes)
    reschedule({change.event_id for change in changes})


def push(changes: list[Transition]) -> None:
    """Push the changes to connected clients. Never raises: the transitions are already saved."""
    try:
        realtime.publish_transitions(changes)
    except Exception:
        logger.warning("live push of %d status changes failed", len(changes), exc_info=True)


def reschedule_after_commit(event_id: int) -> None:
    """Call when a due moment of the event moves outside `lifecycle`: a date edit, a join."""
    transaction.on_commit(lambda: reschedule({event_id}))


def reschedule(event_ids: Collection[int] | None = None) -> None:
    """Schedule the next wake-up: of everything (after sweeps), or of the events a change moved.
    Never raises: the periodic sweeps are the safety net."""
    try:
        scheduling.schedule_next(event_ids)
    except Exception:
        logger.warning("scheduling the next wake-up failed", exc_info=True)


def relay_after_commit() -> None:
    """Wake the webhook relay once new deliveries have committed. Only a wake-up: the rows are
    the deliveries, and the periodic relay sends them if this message is lost."""
    transaction.on_commit(kick_relay)


def kick_relay() -> None:
    """Never raises: the periodic relay is the safety net."""
    try:
        current_app.send_task(RELAY_TASK)
    except Exception:
        logger.warning("waking the webhook relay failed", exc_info=True)
