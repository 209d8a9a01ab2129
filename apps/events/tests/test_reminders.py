"""Delivery emails: the rules with the clock moved by time-machine, then exactly-once with real
worker processes running at once and a worker SIGKILLed in the middle of a batch."""

from __future__ import annotations

import itertools
import logging
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import NoReturn
from zoneinfo import ZoneInfo

import icalendar
import psycopg
import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.mail import EmailMessage
from django.core.mail.backends.locmem import EmailBackend
from django.db import OperationalError, connection
from pytest_django import DjangoAssertNumQueries
from pytest_django.fixtures import SettingsWrapper

from apps.events import clock as eventide_clock
from apps.events import editing, lifecycle, participation, reminders
from apps.events.models import Delivery, Event, Participation
from apps.events.tasks import send_event_reminder_emails
from apps.events.tests.factories import EventFactory, ParticipationFactory, UserFactory
from tests.support import processes
from tests.support.mail import recipients, sent_messages

logger = logging.getLogger(__name__)

User = get_user_model()
Status = Event.EventStatus
LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
LEAD = timedelta(hours=24)


@pytest.fixture(autouse=True)
def lead_of_24_hours(settings: SettingsWrapper) -> None:
    settings.REMINDER_LEAD_HOURS = 24


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def event_starting_in(delta: timedelta, **fields: object) -> Event:
    start = NOW + delta
    return EventFactory.create(start_date=start, end_date=start + timedelta(hours=2), **fields)


def reminded() -> list[str]:
    return [address for message in mail.outbox for address in message.to]


def bulk_participants(event: Event, count: int) -> list[str]:
    users = User.objects.bulk_create(
        User(username=f"p{event.pk}-{i}", email=f"p{event.pk}-{i}@example.com", password="!")
        for i in range(count)
    )
    Participation.objects.bulk_create(Participation(event=event, user=user) for user in users)
    return [user.email for user in users]


@pytest.mark.django_db
class TestReminderRules:
    def test_participant_is_reminded_once_when_the_lead_time_is_reached(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_starting_in(LEAD + timedelta(minutes=1))
        member = ParticipationFactory.create(event=event).user

        assert reminders.send_due() == 0
        clock.shift(timedelta(minutes=1))
        assert reminders.send_due() == 1
        assert reminders.send_due() == 0
        assert reminded() == [member.email]
        assert Delivery.objects.get().sent_at == NOW + timedelta(minutes=1)

    def test_email_has_text_html_and_a_calendar_attachment(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_starting_in(timedelta(hours=3), title="Harbour walk", venue="Pier 4")
        ParticipationFactory.create(event=event)
        reminders.send_due()

        [message] = mail.outbox
        assert isinstance(message, mail.EmailMultiAlternatives)
        assert "Harbour walk" in message.subject
        assert "Harbour walk" in message.body
        assert "Pier 4" in message.body
        [(html, mimetype)] = message.alternatives
        assert mimetype == "text/html"
        assert "<strong>Harbour walk</strong>" in str(html)
        [(filename, ics, ics_type)] = message.attachments
        assert (filename, ics_type) == (f"event-{event.pk}.ics", "text/calendar")
        entry = icalendar.Calendar.from_ical(ics).walk("VEVENT")[0]
        assert entry.decoded("dtstart") == event.start_date
        assert entry.decoded("dtend") == event.end_date
        assert str(entry["summary"]) == "Harbour walk"
        reminder = Delivery.objects.get()
        assert message.extra_headers["Message-ID"] == reminders.message_id(reminder)

    def test_each_email_greets_its_own_recipient_escaped_in_html(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_starting_in(timedelta(hours=3), title="Harbour walk")
        names = ["ann", "<b>bo&b</b>"]
        for name in names:
            ParticipationFactory.create(
                event=event, user=UserFactory.create(username=name, email=f"{len(name)}@x.org")
            )
        assert reminders.send_due() == 2
        sent = [m for m in mail.outbox if isinstance(m, mail.EmailMultiAlternatives)]
        by_recipient = {m.to[0]: (str(m.body), str(m.alternatives[0][0])) for m in sent}
        (ann_text, ann_html), (bob_text, bob_html) = (
            by_recipient["3@x.org"],
            by_recipient["11@x.org"],
        )
        assert "Hello ann," in ann_text
        assert "Hello <b>bo&b</b>," in bob_text
        assert "Hello ann," in ann_html
        assert "Hello &lt;b&gt;bo&amp;b&lt;/b&gt;," in bob_html
        assert "recipient-" not in ann_text + bob_text + ann_html + bob_html

    def test_times_in_the_email_are_london_times(self, clock: time_machine.Coordinates) -> None:
        event = event_starting_in(timedelta(hours=3))  # 15:00 UTC is 16:00 BST in June
        ParticipationFactory.create(event=event)
        reminders.send_due()
        assert "16:00 BST" in mail.outbox[0].body

    def test_joining_after_the_lead_time_but_before_the_start_still_gets_one(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_starting_in(LEAD + timedelta(minutes=1))
        ParticipationFactory.create(event=event)
        clock.shift(LEAD)  # the window opened 59 minutes ago; the early participant is reminded
        assert reminders.send_due() == 1
        late = UserFactory.create()
        participation.join(event.pk, late)
        assert reminders.send_due() == 1
        assert reminded()[-1] == late.email

    def test_cancelled_event_sends_no_reminder_only_its_cancellation_notice(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_starting_in(timedelta(hours=2), title="Harbour walk")
        member = ParticipationFactory.create(event=event).user
        lifecycle.cancel(event.pk)
        assert reminders.send_due() == 1
        [notice] = mail.outbox
        assert notice.to == [member.email]
        assert notice.subject == "Cancelled: Harbour walk"
        assert reminders.send_due() == 0
        assert not Delivery.objects.filter(rule__kind="reminder").exists()

    def test_event_cancelled_after_its_rows_were_created_sends_no_reminder(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_starting_in(timedelta(hours=2))
        ParticipationFactory.create(event=event)
        assert reminders.create_due() == 1
        lifecycle.cancel(event.pk)
        assert reminders.send_due() == 1  # the cancellation notice
        reminder = Delivery.objects.get(rule__kind="reminder")
        assert (reminder.state, reminder.sent_at) == ("skipped", None)
        assert [m.subject.startswith("Cancelled:") for m in mail.outbox] == [True]

    @pytest.mark.parametrize("status", [Status.DRAFT, Status.ONGOING, Status.COMPLETED])
    def test_events_not_confirmed_send_none(
        self, clock: time_machine.Coordinates, status: str
    ) -> None:
        ParticipationFactory.create(event=event_starting_in(timedelta(hours=2), status=status))
        assert reminders.send_due() == 0

    def test_event_already_started_sends_none_even_if_not_yet_swept(
        self, clock: time_machine.Coordinates
    ) -> None:
        ParticipationFactory.create(event=event_starting_in(-timedelta(seconds=1)))
        assert reminders.send_due() == 0

    def test_participant_who_left_gets_none(self, clock: time_machine.Coordinates) -> None:
        event = event_starting_in(timedelta(hours=2))
        member = ParticipationFactory.create(event=event).user
        reminders.create_due()
        participation.leave(event.pk, member)
        assert reminders.send_due() == 0

    def test_participant_without_email_address_is_skipped(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_starting_in(timedelta(hours=2))
        ParticipationFactory.create(event=event, user=UserFactory.create(email=""))
        with_email = ParticipationFactory.create(event=event).user
        assert reminders.send_due() == 1
        assert reminded() == [with_email.email]
        assert reminders.next_due(NOW) != NOW  # nothing left that a wake-up could do now


@pytest.mark.django_db
class TestEditedDates:
    def test_start_moved_out_of_the_window_before_sending_waits_for_the_new_window(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_starting_in(timedelta(hours=2))
        ParticipationFactory.create(event=event)
        reminders.create_due()
        editing.update_event(
            event.pk, start_date=NOW + timedelta(days=3), end_date=NOW + timedelta(days=3, hours=1)
        )
        assert reminders.send_due() == 0
        clock.move_to(NOW + timedelta(days=2) - timedelta(seconds=1))
        assert reminders.send_due() == 0
        clock.move_to(NOW + timedelta(days=2))
        assert reminders.send_due() == 1

    def test_start_moved_into_the_window_is_reminded_at_the_next_run(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_starting_in(timedelta(days=3))
        ParticipationFactory.create(event=event)
        assert reminders.send_due() == 0
        editing.update_event(
            event.pk, start_date=NOW + timedelta(hours=5), end_date=NOW + timedelta(hours=6)
        )
        assert reminders.send_due() == 1

    def test_start_moved_later_after_the_reminder_does_not_send_a_second(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_starting_in(timedelta(hours=2))
        ParticipationFactory.create(event=event)
        assert reminders.send_due() == 1
        editing.update_event(
            event.pk, start_date=NOW + timedelta(days=3), end_date=NOW + timedelta(days=3, hours=1)
        )
        clock.move_to(NOW + timedelta(days=2, hours=1))
        assert reminders.send_due() == 0
        assert len(mail.outbox) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "due_utc"),
    [
        # Sunday 29 March 2026 12:00 BST = 11:00 UTC; 24 real hours before is Saturday 11:00 GMT.
        (datetime(2026, 3, 29, 12, 0, tzinfo=LONDON), datetime(2026, 3, 28, 11, 0, tzinfo=UTC)),
        # Sunday 25 October 2026 12:00 GMT = 12:00 UTC; 24 real hours before is Saturday 13:00 BST.
        (datetime(2026, 10, 25, 12, 0, tzinfo=LONDON), datetime(2026, 10, 24, 12, 0, tzinfo=UTC)),
    ],
    ids=["march-clocks-forward", "october-clocks-back"],
)
def test_lead_time_across_a_dst_change_is_24_real_hours(start: datetime, due_utc: datetime) -> None:
    event = EventFactory.create(start_date=start, end_date=start + timedelta(hours=1))
    ParticipationFactory.create(event=event)
    with time_machine.travel(due_utc - timedelta(seconds=1), tick=False) as clock:
        assert reminders.next_due(eventide_clock.now()) == due_utc
        assert reminders.send_due() == 0
        clock.move_to(due_utc)
        assert reminders.send_due() == 1


@pytest.mark.django_db
def test_a_thousand_participants_get_a_thousand_emails_and_a_second_run_sends_none(
    clock: time_machine.Coordinates, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    event = event_starting_in(timedelta(hours=1))
    addresses = bulk_participants(event, 1000)

    with django_assert_max_num_queries(2):
        assert reminders.create_due() == 1000
    # Per email through Django: the savepoint pair of the test's enclosing transaction. The
    # claim itself is one prepared statement on the driver, counted by PostgreSQL below. Per
    # run: the listing and settling, the rules with their events (one query), and the
    # attachment's calendar SEQUENCE (one count).
    claims_before = claim_executions()
    started = time.perf_counter()
    with django_assert_max_num_queries(2 * 1000 + 6):
        assert reminders.send_due() == 1000
    logger.info(f"1,000 reminders sent in-process in {time.perf_counter() - started:.2f}s")
    assert claim_executions() - claims_before == 1000
    assert reminders.send_due() == 0
    assert sorted(reminded()) == sorted(addresses)
    assert Delivery.objects.filter(sent_at__isnull=False).count() == 1000


def claim_executions() -> int:
    """How often this connection ran the prepared claim (PostgreSQL counts each plan choice)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(generic_plans + custom_plans), 0) FROM pg_prepared_statements "
            "WHERE statement LIKE 'UPDATE events_delivery SET sent_at%%'"
        )
        return int(cursor.fetchone()[0])


@pytest.mark.django_db
def test_without_a_prepared_claim_the_same_emails_go_out(
    clock: time_machine.Coordinates, settings: SettingsWrapper
) -> None:
    settings.REMINDER_PREPARED_CLAIM = False
    event = event_starting_in(timedelta(hours=1))
    addresses = bulk_participants(event, 20)
    claims_before = claim_executions()
    assert reminders.send_due() == 20
    assert reminders.send_due() == 0
    assert sorted(reminded()) == sorted(addresses)
    assert claim_executions() == claims_before


@pytest.mark.django_db(transaction=True)  # the connection is closed between the two runs
def test_the_claims_share_one_cursor_per_connection_and_a_new_connection_gets_its_own(
    clock: time_machine.Coordinates, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[object] = []

    class CountedCursor(psycopg.Cursor):  # type: ignore[type-arg]
        def __init__(self, driver: psycopg.Connection, *args: object) -> None:  # type: ignore[type-arg]
            opened.append(driver)
            super().__init__(driver, *args)

    monkeypatch.setattr(reminders.sending, "psycopg", SimpleNamespace(Cursor=CountedCursor))
    monkeypatch.setattr(reminders.sending._held, "cursor", None, raising=False)
    first = event_starting_in(timedelta(hours=1))
    bulk_participants(first, 5)
    assert reminders.send_due(senders=1) == 5
    assert len(opened) == 1  # five claims, one cursor
    # A connection Django replaced (closed after an error, CONN_MAX_AGE) is never claimed on
    # through the old one's cursor.
    connection.close()
    second = event_starting_in(timedelta(hours=1))
    bulk_participants(second, 5)
    assert reminders.send_due(senders=1) == 5
    assert len(opened) == 2
    assert opened[0] is not opened[1]
    assert len(reminded()) == 10


@pytest.mark.django_db
def test_a_database_error_in_the_prepared_claim_is_a_django_error(
    clock: time_machine.Coordinates, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tasks retry on django.db errors; the driver's own exceptions would escape that.
    ParticipationFactory.create(event=event_starting_in(timedelta(hours=1)))

    class LostCursor(psycopg.Cursor):  # only the claim's cursor; Django's own cursors work
        def execute(self, *args: object, **kwargs: object) -> NoReturn:
            raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(reminders.sending, "psycopg", SimpleNamespace(Cursor=LostCursor))
    # The claim keeps one cursor per connection; this test's connection may hold one already.
    monkeypatch.setattr(reminders.sending._held, "cursor", None, raising=False)
    with pytest.raises(OperationalError, match="server closed"):
        reminders.send_due()
    assert connection.errors_occurred  # Django will check the connection before reusing it
    assert reminded() == []


@pytest.mark.django_db
def test_a_failed_send_is_rolled_back_and_retried_by_the_next_run(
    clock: time_machine.Coordinates, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = event_starting_in(timedelta(hours=1))
    ParticipationFactory.create(event=event)
    ParticipationFactory.create(event=event)
    real_send = EmailBackend.send_messages
    calls = Counter[str]()

    def fail_first(self: EmailBackend, messages: Sequence[EmailMessage]) -> int:
        calls["send"] += 1
        if calls["send"] == 1:
            raise OSError("connection reset by mail server")
        return real_send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", fail_first)
    assert reminders.send_due() == 1
    assert Delivery.objects.filter(sent_at__isnull=True).count() == 1
    assert reminders.send_due() == 1
    assert len(set(reminded())) == 2


class Crash(BaseException):
    """The process dying: not an error any code handles."""


@pytest.mark.django_db
def test_crash_after_the_backend_accepted_but_before_commit_resends_with_the_same_message_id(
    clock: time_machine.Coordinates, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The one window the guarantee leaves open, shown rather than hidden: at-least-once there.
    ParticipationFactory.create(event=event_starting_in(timedelta(hours=1)))
    real_send = EmailBackend.send_messages

    def accepted_then_crash(self: EmailBackend, messages: Sequence[EmailMessage]) -> int:
        real_send(self, messages)
        raise Crash

    monkeypatch.setattr(EmailBackend, "send_messages", accepted_then_crash)
    with pytest.raises(Crash):
        reminders.send_due()
    assert Delivery.objects.get().sent_at is None  # rolled back, so not lost
    monkeypatch.setattr(EmailBackend, "send_messages", real_send)
    assert reminders.send_due() == 1
    first, second = mail.outbox
    assert first.extra_headers["Message-ID"] == second.extra_headers["Message-ID"]


# --- real worker processes -----------------------------------------------------------------------

SENDER_TASK = "events.send_event_reminder_emails"


def sender_counts(*workers: processes.ManagedProcess) -> list[int]:
    """The count of every reminder-sending task run, from each worker's one log line per run."""
    pattern = re.compile(rf"task={re.escape(SENDER_TASK)} id=\S+ count=(\d+)")
    return [int(n) for w in workers for n in pattern.findall(w.output())]


def mail_env(directory: Path) -> dict[str, str]:
    return processes.child_env(
        EMAIL_URL=f"filemail:///{directory}",
        EMAIL_BACKEND="tests.support.mail.SlowFileBackend",
    )


@pytest.fixture
def thousand_due(transactional_db: None) -> list[str]:
    start = eventide_clock.now() + timedelta(hours=1)
    event = EventFactory.create(start_date=start, end_date=start + timedelta(hours=1))
    return bulk_participants(event, 1000)


def assert_each_once(directory: Path, addresses: list[str], in_the_window: int = 0) -> None:
    """Every address got its reminder once; `in_the_window` emails were handed to the backend by
    a killed worker that died before committing them (reminders.py: at most one per sender),
    and only those may have gone out twice, with the same Message-ID."""
    sent = Counter(recipients(directory))
    twice = {a: n for a, n in sent.items() if n > 1}
    assert set(sent) == set(addresses)
    assert sum(sent.values()) == len(addresses) + in_the_window, f"{sum(sent.values())} emails"
    assert sum(n - 1 for n in twice.values()) == in_the_window, list(twice)[:5]
    assert len({m["Message-ID"] for m in sent_messages(directory)}) == len(addresses)
    assert Delivery.objects.filter(sent_at__isnull=False).count() == len(addresses)


def in_the_window(directory: Path, marked: int) -> int:
    """Emails a killed worker wrote but never marked sent: the window reminders.py documents."""
    window = len(recipients(directory)) - marked
    assert 0 <= window <= settings.REMINDER_SENDERS, (window, marked)
    return window


@pytest.mark.e2e
def test_two_workers_sending_at_once_send_each_reminder_once(
    thousand_due: list[str], purged_broker: None, tmp_path: Path
) -> None:
    env = mail_env(tmp_path)
    workers = [processes.worker(env, "-c", "1", name=f"sender{i}").start() for i in range(2)]
    try:
        for w in workers:
            w.wait_for_output("ready.", timeout=60)
        results = [send_event_reminder_emails.delay() for _ in workers]
        processes.wait_for(lambda: all(r.ready() for r in results), timeout=180, interval=0.2)
        per_worker = [sender_counts(w) for w in workers]
    finally:
        for w in workers:
            w.stop()

    assert_each_once(tmp_path, thousand_due)
    assert sum(map(sum, per_worker)) == 1000
    # Both processes really sent: the rows were split between them, not done twice.
    assert all(sum(counts) > 0 for counts in per_worker), per_worker
    logger.info(f"reminders sent per worker: {[sum(c) for c in per_worker]}")


@pytest.mark.e2e
def test_worker_killed_mid_batch_and_restarted_sends_each_reminder_exactly_once(
    thousand_due: list[str], purged_broker: None, tmp_path: Path
) -> None:
    env = mail_env(tmp_path)
    first = processes.worker(env, "-c", "1", name="victim").start()
    try:
        first.wait_for_output("ready.", timeout=60)
        send_event_reminder_emails.delay()
        processes.wait_for(
            lambda: Delivery.objects.filter(sent_at__isnull=False).count() >= 300,
            timeout=120,
        )
        first.kill(signal.SIGKILL)
        assert first.proc is not None
        first.proc.wait(10)
    finally:
        first.stop()
    sent_before_restart = Delivery.objects.filter(sent_at__isnull=False).count()
    emails_before_restart = len(recipients(tmp_path))
    window = in_the_window(tmp_path, sent_before_restart)
    assert 300 <= sent_before_restart < 1000, "the kill did not land in the middle of the batch"

    second = processes.worker(env, "-c", "1", name="restarted").start()
    try:
        second.wait_for_output("ready.", timeout=60)
        # Its catch-up at start queues runs for the pending rows too (and each run's wake-up may
        # queue another): together, one after the other, they send exactly the rest.
        result = send_event_reminder_emails.delay()
        result.get(timeout=180)
        remainder = 1000 - sent_before_restart
        processes.wait_for(lambda: sum(sender_counts(second)) >= remainder, timeout=60)
        assert sum(sender_counts(second)) == remainder
    finally:
        second.stop()

    assert_each_once(tmp_path, thousand_due, window)
    logger.info(
        f"killed after {sent_before_restart} marked sent / {emails_before_restart} emails "
        f"written; restarted worker sent {1000 - sent_before_restart}; "
        f"total {len(recipients(tmp_path))} emails to {len(set(recipients(tmp_path)))} people"
    )


# --- senders side by side (threads, each on its own connections) ---------------------------------


def open_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def test_senders_side_by_side_send_each_reminder_once_and_close_their_connections(
    thousand_due: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_send = EmailBackend.send_messages
    by_thread = Counter[str]()

    def counted(self: EmailBackend, messages: Sequence[EmailMessage]) -> int:
        by_thread[threading.current_thread().name] += len(messages)
        return real_send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", counted)
    before = open_connections()
    assert reminders.send_due(senders=4) == 1000
    assert reminders.send_due(senders=4) == 0

    assert sorted(reminded()) == sorted(thousand_due)
    assert Delivery.objects.filter(sent_at__isnull=False).count() == 1000
    # The work really was shared out, and no thread left its connection open.
    assert len(by_thread) == 4, by_thread
    assert min(by_thread.values()) > 0, by_thread
    assert "MainThread" not in by_thread
    processes.wait_for(lambda: open_connections() <= before, timeout=10)


def test_an_error_in_one_sender_stops_the_run_raises_and_loses_nothing(
    thousand_due: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_send = EmailBackend.send_messages
    calls = itertools.count(1)  # next() is atomic: exactly one call is the 200th

    def broken_on_the_200th(self: EmailBackend, messages: Sequence[EmailMessage]) -> int:
        if next(calls) == 200:
            raise RuntimeError("a bug in a mail plugin")
        return real_send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", broken_on_the_200th)
    with pytest.raises(RuntimeError, match="mail plugin"):
        reminders.send_due(senders=2)
    marked = Delivery.objects.filter(sent_at__isnull=False).count()
    # Stopped early, and the ledger agrees with the outbox: nothing marked and not sent.
    assert 199 <= marked < 250
    assert len(mail.outbox) == marked

    assert reminders.send_due(senders=2) == 1000 - marked
    assert sorted(reminded()) == sorted(thousand_due)
