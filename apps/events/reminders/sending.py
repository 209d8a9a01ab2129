"""Sending the due deliveries (reminders, follow-ups, notices), each exactly once, and the
guarantee it gives.

The pending rows are listed (no locks) a batch at a time; then each email is its own short
transaction:

    claim and mark the row: one UPDATE sent_at ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED,
                            still unsent, still due) -- not yet visible to anyone
    hand the email to the backend  -- SMTP "250 OK", or the file written and flushed
    COMMIT

* Two senders never send the same row: the row lock is held from claim to commit, and a
  sender that reaches a row after the commit no longer sees it as unsent.
* A crash (worker SIGKILLed, connection lost) before the backend accepted the email rolls the
  transaction back: PostgreSQL releases the lock with the connection and the next run sends it.
  Nothing is lost, and nothing is waiting for a lease to expire.
* The one window left is between the backend accepting the email and PostgreSQL receiving the
  COMMIT, a few Python statements long; a crash exactly there sends that one email again on
  the next run (at-least-once, never lost). Its Message-ID is derived from the row, so the
  duplicate is recognisable and most mail systems collapse it. Claiming many rows per
  transaction would widen that window to the whole batch, which is why the claim is per row.
* A failed send (backend error) rolls back too; the row is retried by the next run.

Senders. Most of an email's time is database round trips and PostgreSQL's COMMIT (the WAL
flush), during which Python is idle, so REMINDER_SENDERS threads (default 2), each with its own
database and mail connection, send side by side. Measured with 30,000 emails (10,000 people ×
3 rules) to the locmem backend, 2 cores: one sender about 1,100 emails/s, two about 1,550,
three about 1,650 (Python is then the limit: about 0.5 ms of it per email, a third of it the
backend's own rendering; PostgreSQL uses about 0.25 ms). Each sender
holds at most one email in the window above, so a crash can resend at most REMINDER_SENDERS
emails; REMINDER_SENDERS=1 narrows it to one. A run inside a caller's transaction, or on
SQLite (`make dev`), sends on the caller's connection alone: other connections could not see
the caller's uncommitted rows, and SQLite has one writer anyway. The claim is a prepared
statement (see Claim.take).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from itertools import islice
from queue import Queue
from smtplib import SMTPException
from typing import Any

import psycopg
from django.conf import settings
from django.core import mail
from django.db import connection, transaction

from apps.events import clock, sql
from apps.events.models import Delivery, MessageRule
from apps.events.reminders.queries import create_due, pending, settle_due
from apps.events.reminders.rendering import EventParts, build_message, recipient_timezone
from core import metrics

logger = logging.getLogger(__name__)


class NotSent(Exception):
    """The email backend accepted none of the messages handed to it."""


# Pending reminders listed (with their event and user) per query; each is then claimed alone.
LIST_BATCH = 1000
# Deliveries handed to a sender thread at once.
HANDOFF = 32
# What an email reads of its delivery and person (`rendering.build_message`): the other columns,
# four of them timestamps, cost a tenth of the throughput to load (about 1,360 -> 1,500/s).
LISTED_FIELDS = (
    "id",
    "rule_id",
    "user__id",
    "user__username",
    "user__email",
    "user__profile__user_id",
    "user__profile__timezone",
)


def send_due(at: datetime | None = None, senders: int | None = None) -> int:
    """Create the due rows, settle those that must not go out (missed, opted out), then send
    every pending delivery once; returns the emails sent.

    The pending reminders are listed in batches without locks, one query per LIST_BATCH, then
    each is claimed and marked by one statement that checks again, under the row lock, that it
    is unsent and still due. Claiming "the first pending row" for every email instead joined and
    sorted all pending rows each time: quadratic, 79 emails/s at 2,000 participants.
    """
    at = at or clock.now()
    senders = settings.REMINDER_SENDERS if senders is None else senders
    create_due(at)
    settle_due(at)
    claim = Claim.for_due_at(at)
    work = _pending_with_parts(at)
    alone = connection.in_atomic_block or not sql.is_postgresql()
    if senders <= 1 or alone:
        with mail.get_connection() as backend:
            return sum(_send_one(backend, reminder, parts, claim) for reminder, parts in work)
    return _send_side_by_side(work, claim, senders)


def _pending_with_parts(at: datetime) -> Iterator[tuple[Delivery, EventParts]]:
    """Every pending delivery with the parts of its rule, rendered once per rule and zone.

    Each rule and its event are loaded once per run and set on its deliveries: joined into every
    row, they were two model instances built per email (half the listing's cost)."""
    per_rule: dict[tuple[int, str | None], EventParts] = {}
    rules: dict[int, MessageRule] = {}
    last_id = 0
    while True:
        batch = list(
            pending(at)
            .filter(id__gt=last_id)
            .select_related("user", "user__profile")
            .only(*LISTED_FIELDS)
            .order_by("id")[:LIST_BATCH]
        )
        if missing := {d.rule_id for d in batch} - rules.keys():
            rules.update(MessageRule.objects.select_related("event").in_bulk(missing))
        for delivery in batch:
            delivery.rule = rules[delivery.rule_id]
            key = (delivery.rule_id, recipient_timezone(delivery.user))
            parts = per_rule.get(key) or per_rule.setdefault(
                key, EventParts.of(delivery.rule, key[1])
            )
            yield delivery, parts
        if len(batch) < LIST_BATCH:
            return
        last_id = batch[-1].pk


def _send_side_by_side(
    work: Iterator[tuple[Delivery, EventParts]], claim: Claim, senders: int
) -> int:
    """Hand the work to `senders` threads, each claiming and sending on its own connections.

    The first error any sender meets stops the run (the others finish the email in hand) and is
    raised here, as it would be by a lone sender, so the task retries.
    """
    # Handed over HANDOFF at a time: a queue operation per email cost more than its claim.
    queue: Queue[list[tuple[Delivery, EventParts]] | None] = Queue(maxsize=senders * 2)
    stop = threading.Event()
    sent = [0] * senders
    errors: list[BaseException] = []

    def sender(index: int) -> None:
        try:
            with mail.get_connection() as backend:
                while (chunk := queue.get()) is not None:
                    for item in chunk:
                        if not stop.is_set():
                            sent[index] += _send_one(backend, *item, claim)
        except BaseException as error:
            errors.append(error)
            stop.set()
            while queue.get() is not None:  # let the lister finish putting
                pass
        finally:
            connection.close()  # this thread's own connection

    threads = [
        threading.Thread(target=sender, args=(i,), name=f"reminder-sender-{i}", daemon=True)
        for i in range(senders)
    ]
    for thread in threads:
        thread.start()
    try:
        while not stop.is_set() and (chunk := list(islice(work, HANDOFF))):
            queue.put(chunk)
    finally:
        for _ in threads:
            queue.put(None)
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return sum(sent)


@dataclass(frozen=True)
class Claim:
    """One statement that marks a delivery sent if it is still pending and nobody holds it.

    It returns the id when the caller now owns the row (locked until the caller's transaction
    ends), nothing when the row was sent, stopped being due, or is being sent by another sender
    (SKIP LOCKED). Built once per run: the ORM compiles the due conditions, not every email.
    """

    sql: str
    marked_at: datetime
    due_params: tuple[Any, ...]

    @classmethod
    def for_due_at(cls, at: datetime) -> Claim:
        due_sql, due_params = pending(at).values("id").query.sql_with_params()
        table = Delivery._meta.db_table
        # `state = 'pending'` must be a condition on the locked row itself: PostgreSQL re-checks
        # those on the row's newest version after the lock, so a row another sender has just
        # committed is dropped; a condition inside the IN (...) is judged on the older snapshot.
        # SQLite (`make dev`) has no row locks and needs none: it runs one writer at a time.
        lock = " FOR UPDATE SKIP LOCKED" if sql.is_postgresql() else ""
        # Names from the model, due_sql compiled by the ORM; every value is a parameter.
        statement = (
            f"UPDATE {table} SET sent_at = %s, state = %s WHERE id = ("  # noqa: S608
            f"SELECT id FROM {table} WHERE id = %s AND state = %s AND id IN ({due_sql})"
            f"{lock}) RETURNING id"
        )
        return cls(sql=statement, marked_at=clock.now(), due_params=tuple(map(_plain, due_params)))

    def params(self, reminder_id: int) -> list[Any]:
        return [
            self.marked_at,
            Delivery.State.SENT.value,
            reminder_id,
            Delivery.State.PENDING.value,
            *self.due_params,
        ]

    def take(self, reminder_id: int) -> bool:
        """Run the claim in the caller's transaction; whether the caller now owns the row."""
        if not sql.is_postgresql() or not settings.REMINDER_PREPARED_CLAIM:
            with connection.cursor() as cursor:
                cursor.execute(self.sql, self.params(reminder_id))
                return cursor.fetchone() is not None
        # Planned once per connection, as a protocol-level prepared statement: planning this
        # statement takes about 0.4 ms, twice its execution, and Django's client-side binding
        # (which cannot prepare) would plan it again for every email. Measured: 0.59 ms a claim
        # unprepared, 0.18 ms prepared. Django's own queries stay unprepared: a large threshold
        # means only statements executed with prepare=True are.
        connection.ensure_connection()
        driver = connection.connection
        if driver.prepare_threshold is None:
            driver.prepare_threshold = PREPARE_ONLY_WHEN_ASKED
        # Django's error wrapper, as its own cursors have: driver errors become django.db errors
        # (which the tasks retry on) and a broken connection is marked so Django replaces it.
        with connection.wrap_database_errors:
            held = _claim_cursor(driver)
            held.execute(self.sql, self.params(reminder_id), prepare=True)
            return held.fetchone() is not None


PREPARE_ONLY_WHEN_ASKED = 2**31 - 1

_held = threading.local()


def _claim_cursor(driver: psycopg.Connection[Any]) -> psycopg.Cursor[Any]:
    """One cursor per connection for all its claims, replaced with the connection.

    A new cursor per claim looked up the dumpers of all 19 parameters again and cost PostgreSQL
    twice the work: measured on one connection, 5,000 claims and commits, 562 µs each with a
    cursor per claim (PostgreSQL 220 µs of CPU), 327 µs with one cursor (106 µs); in a whole run
    of 30,000 emails, 920 -> about 1,500 emails/s."""
    held = getattr(_held, "cursor", None)
    if held is None or held.connection is not driver or held.closed:
        held = _held.cursor = psycopg.Cursor(driver)
    return held


def _plain(value: Any) -> Any:
    """A choice's plain string: psycopg finds the dumper of a `str` subclass by walking its
    classes, on every execution."""
    return value.value if isinstance(value, Enum) else value


def _send_one(backend: Any, reminder: Delivery, parts: EventParts, claim: Claim) -> bool:
    """Claim, mark and send one delivery in one transaction; whether it was sent."""
    try:
        with transaction.atomic():
            if not claim.take(reminder.pk):
                return False
            message = build_message(reminder, parts)
            if backend.send_messages([message]) != 1:
                raise NotSent(f"delivery {reminder.pk}")
    except (SMTPException, OSError, NotSent):
        logger.warning("delivery %s not sent; the next run retries it", reminder.pk, exc_info=True)
        metrics.count_message("failed")
        return False
    metrics.count_message("sent")
    return True
