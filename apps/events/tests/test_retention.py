"""Data retention (CONTRACT §8): personal data of long-archived events goes, counts and history
stay, each run is recorded, and two runs at once remove each row once."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test import Client, override_settings

from apps.events import clock, retention, tasks
from apps.events.models import (
    Delivery,
    Event,
    EventStatusChange,
    MessageOptOut,
    Participation,
    RetentionRun,
)
from apps.events.tests.factories import EventFactory, ParticipationFactory, UserFactory
from apps.webhooks.models import Delivery as WebhookDelivery
from apps.webhooks.models import Endpoint

pytestmark = pytest.mark.django_db
Status = Event.EventStatus
DAYS = 30


def archived_event(days_ago: float, participants: int = 3) -> Event:
    """An ARCHIVED event with its history, participants, their sent reminders (deliveries of
    the default rule) and opt-outs, and a webhook delivery of its last change with its body."""
    now = clock.now()
    event = EventFactory.create(
        status=Status.ARCHIVED,
        start_date=now - timedelta(days=days_ago + 100),
        end_date=now - timedelta(days=days_ago + 99),
        archived_at=now - timedelta(days=days_ago),
    )
    change = EventStatusChange.objects.create(
        event=event, from_status=Status.COMPLETED, to_status=Status.ARCHIVED, at=now, source="task"
    )
    rule = event.message_rules.get()
    for _ in range(participants):
        user = ParticipationFactory.create(event=event).user
        Delivery.objects.create(
            rule=rule, user=user, due_at=now, state=Delivery.State.SENT, sent_at=now
        )
        MessageOptOut.objects.create(event=event, user=user, at=now)
    endpoint = Endpoint.objects.create(
        owner=event.organizer,
        url="https://93.184.216.34/",
        event_types=["*"],
        secret="whsec_x",
        created_at=now,
    )
    WebhookDelivery.objects.create(
        endpoint=endpoint,
        change=change,
        type="event.archived",
        state=WebhookDelivery.State.SENT,
        created_at=now,
        payload='{"data": "personal"}',
    )
    return event


@override_settings(RETENTION_DAYS=None)
def test_retention_is_off_while_retention_days_is_unset() -> None:
    archived_event(days_ago=1000)
    assert retention.apply() is None
    assert Participation.objects.count() == 3
    assert not RetentionRun.objects.exists()


@override_settings(RETENTION_DAYS=DAYS)
def test_personal_data_of_long_archived_events_goes_and_counts_and_history_stay(
    django_assert_max_num_queries: Any,
) -> None:
    old = [archived_event(days_ago=DAYS + 1, participants=n) for n in (3, 0, 2)]
    recent = archived_event(days_ago=DAYS - 1)
    active = EventFactory.create()
    ParticipationFactory.create(event=active)
    history = EventStatusChange.objects.count()

    with django_assert_max_num_queries(11):
        run = retention.apply()

    assert run is not None
    counts = (run.events, run.participations, run.deliveries, run.webhook_bodies, run.rows)
    assert counts == (3, 5, 5, 3, 13)
    assert not Participation.objects.filter(event__in=old).exists()
    assert not Delivery.objects.filter(rule__event__in=old).exists()
    assert not MessageOptOut.objects.filter(event__in=old).exists()
    kept = WebhookDelivery.objects.filter(change__event__in=old)
    assert kept.count() == 3  # the log stays, without what was sent
    assert set(kept.values_list("payload", flat=True)) == {""}
    assert WebhookDelivery.objects.get(change__event=recent).payload != ""
    assert Delivery.objects.filter(rule__event=recent).count() == 3
    retained = dict(
        Event.objects.filter(pk__in=[e.pk for e in old]).values_list("pk", "retained_participants")
    )
    assert retained == {old[0].pk: 3, old[1].pk: 0, old[2].pk: 2}
    assert (
        Event.objects.filter(
            pk__in=[e.pk for e in old], personal_data_removed_at=run.ran_at
        ).count()
        == 3
    )
    assert Participation.objects.filter(event=recent).count() == 3
    assert Participation.objects.filter(event=active).count() == 1
    assert EventStatusChange.objects.count() == history
    assert RetentionRun.objects.get() == run


@override_settings(RETENTION_DAYS=DAYS)
def test_a_second_run_finds_nothing_and_is_recorded_too() -> None:
    archived_event(days_ago=DAYS + 1)
    retention.apply()
    again = retention.apply()
    assert again is not None
    assert (again.events, again.rows) == (0, 0)
    assert RetentionRun.objects.count() == 2


@override_settings(RETENTION_DAYS=DAYS)
def test_the_task_returns_the_rows_it_removed_and_logs_them(caplog: Any) -> None:
    archived_event(days_ago=DAYS + 1, participants=2)
    assert tasks.apply_data_retention.apply().get() == 5
    assert "retention: 1 events archived before" in caplog.text
    assert "2 participations, 2 message deliveries and 1 webhook bodies removed" in caplog.text


@override_settings(RETENTION_DAYS=DAYS)
def test_the_admin_lists_the_runs(admin_client: Client) -> None:
    archived_event(days_ago=DAYS + 1)
    retention.apply()
    page = admin_client.get("/admin/events/retentionrun/")
    assert page.status_code == 200
    assert "retention" in page.content.decode().lower()


def test_due_events_are_found_through_the_partial_index() -> None:
    organizer = UserFactory.create()
    now = clock.now()
    Event.objects.bulk_create(
        Event(
            title=f"e{i}",
            organizer=organizer,
            start_date=now - timedelta(days=400),
            end_date=now - timedelta(days=399),
            status=Status.ARCHIVED if i % 10 == 0 else Status.COMPLETED,
            archived_at=now - timedelta(days=i % 500) if i % 10 == 0 else None,
            personal_data_removed_at=now if i % 20 == 0 else None,
        )
        for i in range(20_000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE events_event")
    due = Event.objects.filter(retention.due_q(now - timedelta(days=450))).values("id")
    sql, params = due.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "event_retention_due_idx" in plan, plan


@override_settings(RETENTION_DAYS=DAYS)
def test_two_runs_at_once_remove_each_row_once(transactional_db: None) -> None:
    events = [archived_event(days_ago=DAYS + 1 + i, participants=4) for i in range(40)]
    history = EventStatusChange.objects.count()
    start = threading.Barrier(2)
    runs: list[RetentionRun | None] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            runs.append(retention.apply())
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, errors
    done = [r for r in runs if r is not None]
    assert len(done) == 2
    assert sum(r.events for r in done) == len(events)
    assert sum(r.participations for r in done) == 4 * len(events)
    assert sum(r.deliveries for r in done) == 4 * len(events)
    assert sum(r.webhook_bodies for r in done) == len(events)
    assert not Participation.objects.exists()
    assert not Delivery.objects.exists()
    assert set(Event.objects.values_list("retained_participants", flat=True)) == {4}
    assert EventStatusChange.objects.count() == history
    assert RetentionRun.objects.count() == 2


@override_settings(RETENTION_DAYS=DAYS)
def test_a_run_while_another_is_uncommitted_skips_its_events(transactional_db: None) -> None:
    """The overlap made certain: the first run's transaction stays open while the second runs."""
    archived_event(days_ago=DAYS + 1, participants=2)
    second: list[RetentionRun | None] = []

    def run() -> None:
        try:
            second.append(retention.apply())
        finally:
            connections.close_all()

    with transaction.atomic():
        first = retention.apply()
        thread = threading.Thread(target=run)
        thread.start()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the second run waited for the first one's locks"
    assert first is not None
    assert second[0] is not None
    assert (first.events, first.participations) == (1, 2)
    assert (second[0].events, second[0].participations) == (0, 0)
    assert Event.objects.get().retained_participants == 2
