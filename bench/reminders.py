"""Reminder emails: 10,000 participants through `reminders.send_due()` to the locmem backend."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core import mail
from django.db import connection, transaction

from apps.events import reminders
from apps.events.messages import configuring
from apps.events.models import Delivery, Event, MessageRule
from bench.common import Figure, median, timed
from bench.data import bench_user

PARTICIPANTS_SQL = """
WITH users AS (
    INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email,
                           is_staff, is_active, date_joined)
    SELECT '!', false, 'rem' || g, '', '', 'rem' || g || '@example.com', false, true, %(now)s
    FROM generate_series(1, %(count)s) AS g
    RETURNING id
)
INSERT INTO events_participation (event_id, user_id, joined_at)
SELECT %(event)s, id, %(now)s FROM users
"""


def load_participants(count: int, now: datetime) -> int:
    """One CONFIRMED event an hour away (inside the reminder window) with `count` participants."""
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE events_delivery, events_participation")
        cursor.execute("DELETE FROM auth_user WHERE username LIKE 'rem%%'")
        cursor.execute(
            "INSERT INTO events_event (title, description, venue, timezone, organizer_id, "
            "start_date, end_date, status, created_at, updated_at, dates_revision) VALUES "
            "('Reminded', 'Bring a torch.', 'Bench Hall', 'Europe/London', %s, %s, %s, "
            "'CONFIRMED', %s, %s, 0) "
            "RETURNING id",
            [bench_user().pk, now + timedelta(hours=1), now + timedelta(hours=2), now, now],
        )
        event_id = cursor.fetchone()[0]
        configuring.add_default_rule(Event.objects.get(pk=event_id))
        cursor.execute(PARTICIPANTS_SQL, {"count": count, "event": event_id, "now": now})
        cursor.execute("ANALYZE auth_user")
        cursor.execute("ANALYZE events_participation")
    return int(event_id)


def send_once(event_id: int, now: datetime) -> int:
    with connection.cursor() as cursor:  # a fresh table each run: no dead rows from the last one
        cursor.execute("TRUNCATE events_delivery")
    mail.outbox = []
    return reminders.send_due(now)


def reminder_throughput(count: int, repeat: int, now: datetime) -> Figure:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    event_id = load_participants(count, now)
    rates = []
    for _ in range(repeat):
        seconds, sent = timed(lambda: send_once(event_id, now))
        recipients = {address for message in mail.outbox for address in message.to}
        # Exactly `count`: every participant once, and the database agrees.
        assert sent == count == len(mail.outbox) == len(recipients), (sent, len(mail.outbox))
        assert (
            Delivery.objects.filter(rule__event_id=event_id, sent_at__isnull=False).count() == count
        )
        rates.append(sent / seconds)
    rate = median(rates)
    return Figure(
        name=f"reminders: {count:,} participants, locmem backend",
        ours=f"{rate:,.0f} emails/s, exactly {count:,}",
        baseline="—",
        ratio="—",
        target="≥ 1,000 emails/s, exactly once",
        met=rate >= 1000,
        notes=[f"rates of the {repeat} runs: " + ", ".join(f"{r:,.0f}/s" for r in rates)],
    )


def load_rules(event_id: int, now: datetime) -> None:
    """Two more reminders of the benchmark's event, both due at `now` like its default one."""
    event = Event.objects.get(pk=event_id)
    for minutes in (10, 20):
        configuring.create_rule(event_id, kind="reminder", offset=timedelta(minutes=minutes))
    MessageRule.objects.filter(event=event).update(due_at=now)


def messages_throughput(count: int, repeat: int, now: datetime) -> Figure:
    """`count` participants × 3 rules through one `send_due`: exactly 3 × count emails."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    event_id = load_participants(count, now)
    load_rules(event_id, now)
    expected = 3 * count
    rates = []
    for _ in range(repeat):
        seconds, sent = timed(lambda: send_once(event_id, now))
        pairs = {(m.to[0], m.extra_headers["Message-ID"]) for m in mail.outbox}
        assert sent == expected == len(mail.outbox) == len(pairs), (sent, len(mail.outbox))
        assert Delivery.objects.filter(state=Delivery.State.SENT).count() == expected
        rates.append(sent / seconds)
    rate = median(rates)
    return Figure(
        name=f"messages: {count:,} participants × 3 rules, locmem backend",
        ours=f"{rate:,.0f} emails/s, exactly {expected:,}",
        baseline="—",
        ratio="—",
        target="≥ 1,000 emails/s, exactly once",
        met=rate >= 1000,
        notes=[f"rates of the {repeat} runs: " + ", ".join(f"{r:,.0f}/s" for r in rates)],
    )


RAW_MOVE = """
UPDATE events_delivery SET due_at = events_messagerule.due_at
FROM events_messagerule
WHERE events_delivery.rule_id = events_messagerule.id
  AND events_messagerule.event_id = %s AND events_delivery.state = 'pending'
"""


def reschedule_vs_raw(count: int, repeat: int, now: datetime) -> Figure:
    """A date change moving `count` pending deliveries (`configuring.reschedule_event`, one
    UPDATE) against a raw UPDATE of the same rows, in the same run."""
    event_id = load_participants(count, now)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE events_delivery")
    reminders.create_due(now)
    assert Delivery.objects.filter(state=Delivery.State.PENDING).count() == count
    ours, raw = [], []
    for i in range(repeat):
        event = Event.objects.get(pk=event_id)
        event.start_date += timedelta(minutes=i + 1)
        with transaction.atomic():
            Event.objects.filter(pk=event_id).update(start_date=event.start_date)
            seconds, moved = timed(partial(configuring.reschedule_event, event))
        assert moved == count, moved
        ours.append(seconds)
        with transaction.atomic(), connection.cursor() as cursor:
            seconds, _ = timed(lambda: cursor.execute(RAW_MOVE, [event_id]))
        raw.append(seconds)
    ratio = median(ours) / median(raw)
    return Figure(
        name=f"rescheduling {count:,} pending deliveries after a date change",
        ours=f"{median(ours) * 1000:.1f} ms",
        baseline=f"{median(raw) * 1000:.1f} ms raw UPDATE",
        ratio=f"{ratio:.2f}×",
        target="≤ 1.5× the raw UPDATE, one statement",
        met=ratio <= 1.5,
        notes=[],
    )
