"""Reminder emails: 10,000 participants through `reminders.send_due()` to the locmem backend."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core import mail
from django.db import connection

from apps.events import reminders
from apps.events.messages import configuring
from apps.events.models import Delivery, Event
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
            "INSERT INTO events_event (title, description, venue, organizer_id, start_date, "
            "end_date, status, created_at, updated_at) VALUES "
            "('Reminded', 'Bring a torch.', 'Bench Hall', %s, %s, %s, 'CONFIRMED', %s, %s) "
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
