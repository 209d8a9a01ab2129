"""On time without polling: one de-duplicated wake-up task at the next moment something is due.

After every sweep `schedule_next()` computes the next due moment from the whole database (next
start of a CONFIRMED event, next end of an active one, next reminder window opening); after
anything that moves a due moment of some events (a transition, a join, a date edit:
`effects.reschedule`) it computes theirs only (`next_due_of`), the pending wake-up covering the
rest. Either way it enqueues `events.wake_up` with a countdown to it, capped at MAX_DELAY so
that no message waits anywhere near the broker's visibility timeout.

De-duplication: a Redis key (in the broker's database, so it disappears with the queue it
describes; reached through kombu as Celery reaches the broker, so a `sentinel://` URL finds the
master) holds the time of the pending wake-up. A schedule for the same or a later time is
dropped while that wake-up is pending; an earlier one replaces it. A burst of changes therefore
enqueues one task, not one per change.

Correctness never depends on the wake-up: it only runs the sweeps, which are idempotent, then
schedules the next one. A lost wake-up is replaced by the periodic sweeps (which reschedule too)
or, once its time is GRACE past, by the next schedule; a duplicated or early one sweeps nothing
and reschedules.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

import redis
from celery import current_app
from django.db.models import Min, Q

from apps.events import clock
from apps.events.models import Delivery, Event
from apps.events.reminders import queries as reminders

# Enqueued by name: the task's module imports this one, not the other way round.
WAKE_UP_TASK = "events.wake_up"

logger = logging.getLogger(__name__)

KEY = "eventide:wakeup:at"
# Far below the broker's visibility_timeout: a longer wait is cut into several wake-ups.
MAX_DELAY = timedelta(minutes=5)
# Something due right now: wait this long (a concurrent sweep holds it, or it just failed).
DUE_NOW_DELAY = timedelta(milliseconds=500)
# complete_ended() takes `end_date < now`: wake just after the end, not at it.
END_MARGIN = timedelta(milliseconds=5)
# A pending wake-up this far past its time is presumed lost and no longer blocks others.
GRACE = timedelta(seconds=30)

# Set KEYS[1] to ARGV[1] (the new wake-up time) unless a wake-up at or before it is pending.
# ARGV: new time, now, grace (epoch seconds), ttl (ms). Returns 1 when the caller must enqueue.
_CLAIM = """
local current = tonumber(redis.call('GET', KEYS[1]))
local wanted = tonumber(ARGV[1])
if current and current <= wanted and current + tonumber(ARGV[3]) > tonumber(ARGV[2]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
return 1
"""
# Delete KEYS[1] if it still holds ARGV[1]: the wake-up for that time has started.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


# Short timeouts, no retries: a hung Redis must not hold up the request or task that made a change.
_BROKER_TIMEOUTS = {"socket_timeout": 2, "socket_connect_timeout": 2, "max_retries": 0}


class _BrokerRedis:
    """The Redis client of the broker's kombu channel, opened once per process (thread-safe:
    the client draws from the channel's connection pool, which redis-py resets after a fork)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # kombu's Connection (its stubs lack default_channel and transport_cls).
        self._connection: Any = None
        self._client: redis.Redis | None = None

    def client(self) -> redis.Redis | None:
        """None when the broker is not Redis: wake-ups are then enqueued without de-duplication."""
        with self._lock:
            if self._connection is None:
                connection: Any = current_app.connection_for_write(
                    connect_timeout=2, transport_options=_BROKER_TIMEOUTS
                )
                try:
                    channel = connection.default_channel
                except Exception:
                    connection.release()
                    raise
                open_client = getattr(channel, "conn_or_acquire", None)
                if open_client is None:
                    logger.warning(
                        "broker %s is not Redis: wake-ups are not de-duplicated",
                        connection.transport_cls,
                    )
                else:
                    with open_client() as client:
                        self._client = client
                self._connection = connection
            return self._client


_broker_redis = _BrokerRedis()


def _redis() -> redis.Redis | None:
    return _broker_redis.client()


def _stamp(moment: datetime) -> str:
    return f"{moment.timestamp():.6f}"


def next_due(at: datetime) -> datetime | None:
    """The next moment a sweep has something to do (`at` or earlier when something is overdue)."""
    status = Event.EventStatus
    first_start = Event.objects.filter(status=status.CONFIRMED).aggregate(m=Min("start_date"))["m"]
    first_end = Event.objects.filter(
        status__in=Event.ACTIVE_STATUSES, end_date__isnull=False
    ).aggregate(m=Min("end_date"))["m"]
    return _earliest(first_start, first_end, reminders.next_due(at))


def next_due_of(at: datetime, event_ids: Collection[int]) -> datetime | None:
    """The next due moment of these events: the start of a CONFIRMED one, the end of an active
    one, the due time of a pending delivery of theirs; one query by primary key.

    A pending delivery past its time counts as due now even when it may no longer go out (its
    event started): the wake-up that follows settles it. Rules whose rows are missing are left
    to the whole-database next_due(): a join, a new rule and a cancel write their rows in the
    change's own transaction."""
    status = Event.EventStatus
    moments = Event.objects.filter(id__in=event_ids).aggregate(
        start=Min("start_date", filter=Q(status=status.CONFIRMED)),
        end=Min("end_date", filter=Q(status__in=Event.ACTIVE_STATUSES)),
    )
    pending = Delivery.objects.filter(
        rule__event_id__in=event_ids, state=Delivery.State.PENDING
    ).aggregate(first=Min("due_at"))["first"]
    return _earliest(moments["start"], moments["end"], pending)


def _earliest(
    start: datetime | None, end: datetime | None, message: datetime | None
) -> datetime | None:
    ending = end + END_MARGIN if end else None
    due = [moment for moment in (start, ending, message) if moment is not None]
    return min(due) if due else None


def schedule_next(event_ids: Collection[int] | None = None) -> datetime | None:
    """Enqueue the wake-up for the next due moment unless one at or before it is pending.

    After a sweep (`event_ids` None) the moment is the whole database's. After a change to some
    events it is theirs only: a pending wake-up already covers every other event's moments
    (each change scheduled its own, each wake-up schedules the next of all), and one change can
    only bring its own events' moments forward. The whole database's next moment cost a web
    request 5 queries over every rule and participant; one event's are index lookups.

    Returns the wake-up time enqueued, or None when nothing was enqueued.
    """
    at = clock.now()
    due = next_due(at) if event_ids is None else next_due_of(at, event_ids)
    if due is None:
        return None
    if due <= at:
        due = at + DUE_NOW_DELAY
    wake_at = min(due, at + MAX_DELAY)
    return wake_at if schedule_at(wake_at, at) else None


def schedule_at(wake_at: datetime, at: datetime) -> bool:
    """Enqueue `events.wake_up` for `wake_at` if no wake-up at or before it is pending."""
    countdown = max((wake_at - at).total_seconds(), 0.0)
    ttl_ms = int((countdown + GRACE.total_seconds()) * 1000)
    client = _redis()
    claimed = client is None or client.eval(
        _CLAIM, 1, KEY, _stamp(wake_at), _stamp(at), GRACE.total_seconds(), ttl_ms
    )
    if not claimed:
        return False
    # By name: a web process, the shell or a command has not imported the task modules (only
    # worker and beat do); looking the task up in the registry there raised NotRegistered.
    current_app.send_task(WAKE_UP_TASK, args=[_stamp(wake_at)], countdown=countdown)
    logger.debug("wake-up scheduled at %s (in %.3fs)", wake_at.isoformat(), countdown)
    return True


def release(wake_at: str | None) -> None:
    """The wake-up for `wake_at` has started: it no longer blocks an earlier or equal schedule."""
    if wake_at is not None and (client := _redis()) is not None:
        client.eval(_RELEASE, 1, KEY, wake_at)


def forget() -> None:
    """Drop the record of the pending wake-up (at a worker's start; tests; after a purge)."""
    if (client := _redis()) is not None:
        client.delete(KEY)
