"""Lifecycle messages (CONTRACT §3): rules × delivery states with the clock moved by
time-machine, the one-click opt-out, the organiser's API and pages, exactly once with two
senders."""

from __future__ import annotations

import email
import email.policy
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail, signing
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse, set_script_prefix
from pytest_django import DjangoAssertNumQueries
from pytest_django.fixtures import SettingsWrapper
from rest_framework.test import APIClient

from apps.events import editing, lifecycle, participation, reminders, scheduling
from apps.events.messages import configuring, due, unsubscribe
from apps.events.models import Delivery, Event, MessageRule, Participation
from apps.events.tests.factories import EventFactory, ParticipationFactory, UserFactory
from tests.support.api import assert_error
from tests.support.auth import token_for

Status = Event.EventStatus
State = Delivery.State
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def message_settings(settings: SettingsWrapper) -> None:
    settings.REMINDER_LEAD_HOURS = 24
    settings.MESSAGE_MISSED_AFTER_HOURS = 24
    settings.SITE_URL = "https://eventide.example"


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def event_at(start: timedelta, hours: float = 2, **fields: Any) -> Event:
    begins = NOW + start
    return EventFactory.create(
        start_date=begins, end_date=begins + timedelta(hours=hours), **fields
    )


def end_of(event: Event) -> datetime:
    assert event.end_date is not None
    return event.end_date


def joined(event: Event, count: int = 1) -> list[Any]:
    users = [UserFactory.create() for _ in range(count)]
    for user in users:
        participation.join(event.pk, user)
    return users


def states() -> Counter[str]:
    return Counter(Delivery.objects.values_list("state", flat=True))


def sent_to() -> list[str]:
    return [address for message in mail.outbox for address in message.to]


# --- when a rule is due ---------------------------------------------------------------------------


def due_of(kind: str, offset: str, local: str | None, start: datetime, zone: ZoneInfo) -> datetime:
    parsed = due.parse_offset(offset)
    assert parsed is not None
    return due.due_at(
        kind,
        parsed,
        due.parse_local_time(local) if local else None,
        start=start,
        end=start + timedelta(hours=2),
        zone=zone,
    )


def test_a_reminder_is_its_offset_before_the_start_and_a_follow_up_after_the_end() -> None:
    start = datetime(2026, 6, 20, 18, 0, tzinfo=UTC)
    assert due_of("reminder", "PT2H", None, start, LONDON) == start - timedelta(hours=2)
    assert due_of("reminder", "P1DT30M", None, start, LONDON) == start - timedelta(
        days=1, minutes=30
    )
    assert due_of("follow_up", "P1D", None, start, LONDON) == start + timedelta(days=1, hours=2)


@pytest.mark.parametrize(
    ("zone", "start_local", "local", "due_utc"),
    [
        # The day before a Monday 10:00 event is the Sunday the clocks change, at 09:00 there.
        (LONDON, datetime(2026, 3, 30, 10, 0), "09:00", datetime(2026, 3, 29, 8, 0)),  # BST
        (LONDON, datetime(2026, 10, 26, 10, 0), "09:00", datetime(2026, 10, 25, 9, 0)),  # GMT
        (NEW_YORK, datetime(2026, 3, 9, 10, 0), "09:00", datetime(2026, 3, 8, 13, 0)),  # EDT
        (NEW_YORK, datetime(2026, 11, 2, 10, 0), "09:00", datetime(2026, 11, 1, 14, 0)),  # EST
        # A time the spring change skips is sent when the clocks jump, never an hour early.
        (LONDON, datetime(2026, 3, 30, 10, 0), "01:30", datetime(2026, 3, 29, 1, 0)),
        (NEW_YORK, datetime(2026, 3, 9, 10, 0), "02:30", datetime(2026, 3, 8, 7, 0)),
        # A time the autumn change repeats is its first occurrence (still summer time).
        (LONDON, datetime(2026, 10, 26, 10, 0), "01:30", datetime(2026, 10, 25, 0, 30)),
        (NEW_YORK, datetime(2026, 11, 2, 10, 0), "01:30", datetime(2026, 11, 1, 5, 30)),
    ],
    ids=[
        "london-spring",
        "london-autumn",
        "new-york-spring",
        "new-york-autumn",
        "london-spring-gap",
        "new-york-spring-gap",
        "london-autumn-overlap",
        "new-york-autumn-overlap",
    ],
)
def test_local_time_is_read_in_the_zone_across_dst_changes(
    zone: ZoneInfo, start_local: datetime, local: str, due_utc: datetime
) -> None:
    start = start_local.replace(tzinfo=zone)
    assert due_of("reminder", "P1D", local, start, zone) == due_utc.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("PT2H", timedelta(hours=2)),
        ("P1D", timedelta(days=1)),
        ("P1DT12H30M", timedelta(days=1, hours=12, minutes=30)),
        ("P2W", timedelta(weeks=2)),
        ("PT0S", timedelta(0)),
        ("P", None),
        ("PT", None),
        ("P1Y", None),
        ("P1M", None),
        ("2 hours", None),
        ("-PT1H", None),
        ("P400D", None),
    ],
)
def test_offsets_are_iso_8601_durations(text: str, parsed: timedelta | None) -> None:
    assert due.parse_offset(text) == parsed
    if parsed is not None:
        assert due.parse_offset(due.format_offset(parsed)) == parsed


# --- rules × states -------------------------------------------------------------------------------


@pytest.mark.django_db
class TestDeliveries:
    def test_every_new_event_has_the_default_reminder(self) -> None:
        organizer = UserFactory.create()
        start = datetime(2026, 12, 10, 19, 0, tzinfo=UTC)
        event = editing.create_event(organizer, title="Choir", start_date=start)
        [rule] = event.message_rules.all()
        assert (rule.kind, rule.offset, rule.local_time) == ("reminder", timedelta(hours=24), None)
        assert rule.due_at == start - timedelta(hours=24)

    def test_joining_writes_one_pending_delivery_per_rule(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_at(timedelta(days=3))
        configuring.create_rule(event.pk, kind="follow_up", offset=timedelta(hours=1))
        [member] = joined(event)
        rows = Delivery.objects.filter(user=member).order_by("due_at")
        assert [(d.rule.kind, d.state, d.due_at) for d in rows] == [
            ("reminder", "pending", event.start_date - timedelta(hours=24)),
            ("follow_up", "pending", end_of(event) + timedelta(hours=1)),
        ]
        participation.join(event.pk, member)  # joining again writes nothing
        assert Delivery.objects.filter(user=member).count() == 2

    def test_a_rule_added_later_gives_every_participant_a_delivery(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_at(timedelta(days=3))
        joined(event, 3)
        rule = configuring.create_rule(event.pk, kind="reminder", offset=timedelta(hours=2))
        assert rule.deliveries.filter(state=State.PENDING).count() == 3

    def test_reminders_go_out_at_their_offsets_each_once(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_at(timedelta(days=3))
        configuring.create_rule(
            event.pk, kind="reminder", offset=timedelta(hours=2), subject="Soon: {{ event.title }}"
        )
        [member] = joined(event)
        clock.move_to(event.start_date - timedelta(hours=24, seconds=1))
        assert reminders.send_due() == 0
        clock.move_to(event.start_date - timedelta(hours=24))
        assert reminders.send_due() == 1
        clock.move_to(event.start_date - timedelta(hours=2))
        assert reminders.send_due() == 1
        assert reminders.send_due() == 0
        assert sent_to() == [member.email, member.email]
        assert mail.outbox[1].subject == f"Soon: {event.title}"
        assert states() == {"sent": 2}

    def test_follow_up_is_sent_after_the_end_only_once_the_event_completed(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_at(timedelta(hours=30))
        configuring.create_rule(
            event.pk,
            kind="follow_up",
            offset=timedelta(hours=1),
            body="Thanks, {{ user.username }}!",
        )
        [member] = joined(event)
        clock.move_to(event.start_date - timedelta(hours=24))
        assert reminders.send_due() == 1  # the reminder
        clock.move_to(end_of(event) + timedelta(hours=1))
        Event.objects.filter(pk=event.pk).update(status=Status.ONGOING)
        assert reminders.send_due() == 0  # ended but not yet COMPLETED: waits
        lifecycle.complete_ended()
        assert reminders.send_due() == 1
        assert mail.outbox[-1].body.startswith(f"Thanks, {member.username}!")
        assert states() == {"sent": 2}

    def test_follow_up_more_than_the_missed_window_late_is_missed(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_at(timedelta(hours=30))
        configuring.create_rule(event.pk, kind="follow_up", offset=timedelta(hours=1))
        joined(event)
        clock.move_to(end_of(event) + timedelta(hours=1 + 24, seconds=1))
        lifecycle.complete_ended()
        assert reminders.send_due() == 0
        assert Delivery.objects.get(rule__kind="follow_up").state == State.MISSED

    def test_worker_down_past_the_start_marks_the_reminder_missed_never_late(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_at(timedelta(days=3))
        joined(event, 2)
        clock.move_to(event.start_date + timedelta(minutes=1))  # nothing ran since
        assert reminders.send_due() == 0
        assert mail.outbox == []
        assert states() == {"missed": 2}

    def test_date_moved_later_before_due_at_moves_the_pending_deliveries(
        self, clock: time_machine.Coordinates, django_assert_max_num_queries: DjangoAssertNumQueries
    ) -> None:
        event = event_at(timedelta(days=3))
        joined(event, 5)
        later = event.start_date + timedelta(days=2)
        with django_assert_max_num_queries(8):
            editing.update_event(event.pk, start_date=later, end_date=later + timedelta(hours=1))
        assert set(Delivery.objects.values_list("due_at", flat=True)) == {
            later - timedelta(hours=24)
        }
        clock.move_to(event.start_date - timedelta(hours=24))  # the old due moment
        assert reminders.send_due() == 0
        clock.move_to(later - timedelta(hours=24))
        assert reminders.send_due() == 5

    def test_date_moved_earlier_past_due_at_sends_at_the_next_run(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_at(timedelta(days=3))
        joined(event)
        sooner = NOW + timedelta(hours=3)
        editing.update_event(event.pk, start_date=sooner, end_date=sooner + timedelta(hours=1))
        assert scheduling.next_due(NOW) == NOW
        assert reminders.send_due() == 1

    def test_date_moved_after_sending_sends_nothing_more(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_at(timedelta(hours=3))
        joined(event)
        assert reminders.send_due() == 1
        later = NOW + timedelta(days=3)
        editing.update_event(event.pk, start_date=later, end_date=later + timedelta(hours=1))
        clock.move_to(later - timedelta(hours=2))
        assert reminders.send_due() == 0
        assert Delivery.objects.get().due_at == NOW + timedelta(hours=3) - timedelta(hours=24)

    def test_changing_a_rule_moves_its_pending_deliveries(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_at(timedelta(days=3))
        joined(event, 2)
        [rule] = event.message_rules.all()
        configuring.update_rule(event.pk, rule.pk, offset=timedelta(hours=1), local_time=time(9))
        expected = due.at_local_time(
            event.start_date - timedelta(hours=1), time(9), due.event_zone(event)
        )
        assert set(rule.deliveries.values_list("due_at", flat=True)) == {expected}

    def test_leaving_drops_the_pending_deliveries_and_joining_again_restores_them(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_at(timedelta(days=3))
        [member] = joined(event)
        participation.leave(event.pk, member)
        assert not Delivery.objects.exists()
        participation.join(event.pk, member)
        assert states() == {"pending": 1}

    def test_join_after_due_at_still_gets_the_reminder_before_the_start(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_at(timedelta(hours=5))
        [late] = joined(event)
        assert Delivery.objects.get(user=late).due_at < NOW
        assert reminders.send_due() == 1
        assert sent_to() == [late.email]

    def test_join_after_the_start_gets_no_reminder(self, clock: time_machine.Coordinates) -> None:
        event = event_at(-timedelta(minutes=30), status=Status.ONGOING)
        joined(event)
        assert not Delivery.objects.exists()

    def test_cancel_skips_pending_deliveries_and_sends_one_notice_each(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_at(timedelta(days=3), title="Harbour walk")
        configuring.create_rule(event.pk, kind="follow_up", offset=timedelta(hours=1))
        members = joined(event, 3)
        lifecycle.cancel(event.pk)
        assert states() == {"skipped": 6, "pending": 3}
        assert reminders.send_due() == 3
        clock.move_to(end_of(event) + timedelta(hours=2))
        assert reminders.send_due() == 0
        assert sorted(sent_to()) == sorted(member.email for member in members)
        assert {message.subject for message in mail.outbox} == {"Cancelled: Harbour walk"}
        assert states() == {"skipped": 6, "sent": 3}

    def test_the_notice_is_written_in_the_cancel_transaction(self) -> None:
        event = EventFactory.create()
        ParticipationFactory.create(event=event)
        notices = []

        def cancel_then_fail() -> None:
            with transaction.atomic():
                lifecycle.cancel(event.pk)
                notices.append(Delivery.objects.filter(rule__kind="cancellation").count())
                raise RuntimeError("rolled back with the transition")

        with pytest.raises(RuntimeError):
            cancel_then_fail()
        assert notices == [1]
        assert Event.objects.get(pk=event.pk).status == Status.CONFIRMED
        assert not MessageRule.objects.filter(kind="cancellation").exists()

    def test_participant_without_an_address_gets_no_row_and_blocks_no_wake_up(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_at(timedelta(hours=5))
        participation.join(event.pk, UserFactory.create(email=""))
        assert not Delivery.objects.exists()
        assert scheduling.next_due(NOW) != NOW

    def test_local_time_is_read_in_the_events_own_zone_and_follows_a_zone_change(
        self, clock: time_machine.Coordinates
    ) -> None:
        start = datetime(2026, 11, 2, 10, 0, tzinfo=NEW_YORK)  # Monday after the autumn change
        event = EventFactory.create(
            start_date=start, end_date=start + timedelta(hours=1), timezone="America/New_York"
        )
        rule = configuring.create_rule(
            event.pk, kind="reminder", offset=timedelta(days=1), local_time=time(9)
        )
        joined(event)
        assert rule.due_at == datetime(2026, 11, 1, 14, 0, tzinfo=UTC)  # 09:00 EST
        editing.update_event(event.pk, timezone="Europe/London")
        rule.refresh_from_db()
        # The instant of the start stays; 09:00 on the day before is now London's (GMT).
        assert rule.due_at == datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
        assert set(rule.deliveries.values_list("due_at", flat=True)) == {rule.due_at}

    def test_wake_up_is_scheduled_at_the_next_due_delivery(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_at(timedelta(days=3))
        configuring.create_rule(event.pk, kind="reminder", offset=timedelta(days=2, hours=12))
        joined(event)
        assert scheduling.next_due(NOW) == event.start_date - timedelta(days=2, hours=12)


# --- the email ------------------------------------------------------------------------------------


@pytest.mark.parametrize("script_prefix", ["/", "/eventide/"])
def test_the_unsubscribe_link_is_the_one_its_view_is_reversed_to(script_prefix: str) -> None:
    """url_for() reverses the path once and puts each token in it: the same link reverse() gives,
    under any script prefix (an install below a path)."""
    set_script_prefix(script_prefix)
    try:
        for event_id, user_id in [(1, 2), (123456789, 987654321)]:
            token = unsubscribe.token_for(event_id, user_id)
            path = reverse("events:unsubscribe", args=[token])
            assert unsubscribe.url_for(event_id, user_id) == f"https://eventide.example{path}"
            assert path.startswith(script_prefix)
    finally:
        set_script_prefix("/")


@pytest.mark.django_db
def test_every_email_carries_one_click_unsubscribe_headers(
    clock: time_machine.Coordinates,
) -> None:
    event = event_at(timedelta(hours=3), title="Harbour walk")
    [member] = joined(event)
    reminders.send_due()
    [message] = mail.outbox
    parsed = email.message_from_bytes(message.message().as_bytes(), policy=email.policy.default)
    link = str(parsed["List-Unsubscribe"]).strip()
    assert link.startswith("<https://eventide.example/messages/unsubscribe/")
    assert link.endswith(">")
    assert str(parsed["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert str(parsed["Message-ID"]) == reminders.message_id(Delivery.objects.get())
    token = urlsplit(link[1:-1]).path.split("/")[-2]
    assert unsubscribe.read_token(token) == unsubscribe.Unsubscribe(event.pk, member.pk)
    assert link[1:-1] in message.body


@pytest.mark.django_db
def test_templates_see_plain_values_and_html_is_escaped(clock: time_machine.Coordinates) -> None:
    event = event_at(timedelta(days=3), title="<b>Jazz</b> & co")
    configuring.create_rule(
        event.pk,
        kind="reminder",
        offset=timedelta(days=3),
        subject="{{ event.title }}",
        body="{{ event.title }} by {{ event.organizer.password }}.",
    )
    joined(event)
    assert reminders.send_due() == 1
    [message] = mail.outbox
    assert isinstance(message, mail.EmailMultiAlternatives)
    assert message.subject == "<b>Jazz</b> & co"
    assert message.body.startswith("<b>Jazz</b> & co by .")
    assert "&lt;b&gt;Jazz&lt;/b&gt; &amp; co by ." in str(message.alternatives[0][0])


# --- opting out -----------------------------------------------------------------------------------


def link_path(event: Event, user: Any) -> str:
    return urlsplit(unsubscribe.url_for(event.pk, user.pk)).path


@pytest.mark.django_db
class TestOptOut:
    def test_post_to_the_link_without_login_mutes_that_event_only(
        self, clock: time_machine.Coordinates
    ) -> None:
        muted, other = event_at(timedelta(hours=3)), event_at(timedelta(hours=4))
        [member] = joined(muted)
        participation.join(other.pk, member)
        client = Client(enforce_csrf_checks=True)
        response = client.post(link_path(muted, member), {"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
        assert reminders.send_due() == 1
        assert [m.extra_headers["List-Unsubscribe"] for m in mail.outbox] == [
            f"<{unsubscribe.url_for(other.pk, member.pk)}>"
        ]
        assert Delivery.objects.get(rule__event=muted).state == State.OPTED_OUT

    def test_get_shows_a_confirmation_form_and_mutes_nothing(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_at(timedelta(hours=3), title="Harbour walk")
        [member] = joined(event)
        response = Client().get(link_path(event, member))
        assert response.status_code == 200
        assert b'method="post"' in response.content
        assert b"Harbour walk" in response.content
        assert reminders.send_due() == 1

    def test_muting_later_opts_out_the_pending_deliveries_and_notices(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_at(timedelta(days=3))
        [member] = joined(event)
        Client().post(link_path(event, member))
        lifecycle.cancel(event.pk)
        assert reminders.send_due() == 0
        assert states() == {"opted_out": 2}

    @pytest.mark.parametrize(
        "forge",
        [
            "garbage",
            "not:a:token",
            "",
            "x" * 5000,
        ],
    )
    def test_a_garbled_token_is_refused(self, clock: time_machine.Coordinates, forge: str) -> None:
        event = event_at(timedelta(hours=3))
        joined(event)
        path = f"/messages/unsubscribe/{forge}/" if forge else "/messages/unsubscribe//"
        response = Client().post(path)
        assert response.status_code in (400, 404)
        assert reminders.send_due() == 1

    def test_a_forged_or_reused_signature_is_refused(self, clock: time_machine.Coordinates) -> None:
        event, other = event_at(timedelta(hours=3)), event_at(timedelta(hours=4))
        [member] = joined(event)
        [neighbour] = joined(other)
        genuine = unsubscribe.token_for(event.pk, member.pk)
        _, signature = genuine.rsplit(":", 1)
        # Another person's or event's payload under this signature; a value signed for another
        # purpose (another salt); a signature made with another key.
        reused = signing.dumps([other.pk, neighbour.pk], salt=unsubscribe.SALT).rsplit(":", 1)[0]
        candidates = [
            f"{reused}:{signature}",
            signing.dumps([event.pk, member.pk], salt="another.purpose"),
            signing.dumps([event.pk, member.pk], salt=unsubscribe.SALT, key="not-our-secret"),
            signing.dumps(["1", "2"], salt=unsubscribe.SALT),
        ]
        for token in candidates:
            response = Client().post(f"/messages/unsubscribe/{token}/")
            assert response.status_code == 400, token
        assert reminders.send_due() == 2

    def test_email_messages_off_in_the_profile_mutes_everything(
        self, clock: time_machine.Coordinates
    ) -> None:
        first, second = event_at(timedelta(hours=3)), event_at(timedelta(hours=4))
        [member] = joined(first)
        participation.join(second.pk, member)
        [other] = joined(second)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(member)}")
        response = client.patch("/api/auth/me/", {"email_messages": False}, format="json")
        assert response.status_code == 200
        assert response.json()["email_messages"] is False
        assert reminders.send_due() == 1
        assert sent_to() == [other.email]
        assert states() == {"opted_out": 2, "sent": 1}


# --- exactly once ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_senders_at_once_send_every_delivery_of_several_rules_once() -> None:
    start = datetime.now(UTC) + timedelta(hours=1)
    event = EventFactory.create(start_date=start, end_date=start + timedelta(hours=1))
    for minutes in (10, 20):
        configuring.create_rule(event.pk, kind="reminder", offset=timedelta(minutes=minutes))
    users = [UserFactory.create(username=f"twice{i}") for i in range(60)]
    Participation.objects.bulk_create(Participation(event=event, user=user) for user in users)
    later = start - timedelta(minutes=5)
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def sender() -> None:
        try:
            barrier.wait()
            counts.append(reminders.send_due(later, senders=1))
        finally:
            connection.close()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 180
    assert Counter(Counter(sent_to()).values()) == {3: 60}
    assert len({m.extra_headers["Message-ID"] for m in mail.outbox}) == 180
    assert states() == {"sent": 180}


# --- the organiser's API --------------------------------------------------------------------------


def api_as(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


@pytest.mark.django_db
class TestMessagesApi:
    def test_organizer_lists_adds_edits_and_deletes_rules(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_at(timedelta(days=3))
        joined(event, 2)
        api = api_as(event.organizer)
        url = f"/api/events/{event.pk}/messages/"
        [default] = api.get(url).json()
        assert {k: default[k] for k in ("kind", "offset", "local_time")} == {
            "kind": "reminder",
            "offset": "P1D",
            "local_time": None,
        }
        body = {"kind": "follow_up", "offset": "PT2H", "local_time": "09:00", "subject": "Hi"}
        created = api.post(url, body, format="json")
        assert created.status_code == 201, created.json()
        rule = created.json()
        assert (rule["offset"], rule["local_time"], rule["body"]) == ("PT2H", "09:00", "")
        assert Delivery.objects.filter(rule_id=rule["id"]).count() == 2
        changed = api.patch(f"{url}{rule['id']}/", {"offset": "P1DT6H"}, format="json")
        assert changed.status_code == 200
        assert changed.json()["offset"] == "P1DT6H"
        assert api.delete(f"{url}{rule['id']}/").status_code == 204
        assert api.delete(f"{url}{rule['id']}/").status_code == 404
        assert [r["id"] for r in api.get(url).json()] == [default["id"]]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"kind": "reminder", "offset": "2 hours"}, "offset"),
            ({"kind": "reminder", "offset": "P1Y"}, "offset"),
            ({"kind": "reminder", "offset": 7200}, "offset"),
            ({"kind": "reminder", "offset": "PT1H", "local_time": "25:00"}, "local_time"),
            ({"kind": "reminder", "offset": "PT1H", "local_time": "9am"}, "local_time"),
            ({"kind": "reminder", "offset": "PT1H", "body": "{% if %}"}, "body"),
            (
                {"kind": "reminder", "offset": "PT1H", "subject": "{{ event.title|nope }}"},
                "subject",
            ),
            ({"kind": "reminder", "offset": "PT1H", "body": "{% include 'x.html' %}"}, "body"),
            ({"kind": "reminder", "offset": "PT1H", "body": "{% debug %}"}, "body"),
            ({"kind": "cancellation", "offset": "PT1H"}, "kind"),
            ({"offset": "PT1H"}, "kind"),
        ],
    )
    def test_bad_values_are_a_400_naming_the_field(
        self, clock: time_machine.Coordinates, body: dict[str, Any], field: str
    ) -> None:
        event = event_at(timedelta(days=3))
        response = api_as(event.organizer).post(
            f"/api/events/{event.pk}/messages/", body, format="json"
        )
        assert_error(response, 400, field)

    def test_only_the_organizer_manages_rules(self, clock: time_machine.Coordinates) -> None:
        event = event_at(timedelta(days=3))
        [rule] = event.message_rules.all()
        stranger = api_as(UserFactory.create())
        assert stranger.get(f"/api/events/{event.pk}/messages/").status_code == 403
        patch = stranger.patch(
            f"/api/events/{event.pk}/messages/{rule.pk}/", {"offset": "PT1H"}, format="json"
        )
        assert patch.status_code == 403
        assert APIClient().get(f"/api/events/{event.pk}/deliveries/").status_code == 401

    def test_rules_of_a_cancelled_event_cannot_change(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_at(timedelta(days=3))
        lifecycle.cancel(event.pk)
        response = api_as(event.organizer).post(
            f"/api/events/{event.pk}/messages/",
            {"kind": "reminder", "offset": "PT1H"},
            format="json",
        )
        assert_error(response, 409)

    def test_delivery_log_filters_by_state_and_counts_all(
        self, clock: time_machine.Coordinates
    ) -> None:
        event = event_at(timedelta(hours=3))
        configuring.create_rule(event.pk, kind="reminder", offset=timedelta(hours=1))
        members = joined(event, 2)
        reminders.send_due()
        api = api_as(event.organizer)
        everything = api.get(f"/api/events/{event.pk}/deliveries/").json()
        assert everything["counts"] == {
            "pending": 2,
            "sent": 2,
            "missed": 0,
            "skipped": 0,
            "opted_out": 0,
        }
        sent = api.get(f"/api/events/{event.pk}/deliveries/?state=sent").json()["results"]
        assert sorted(d["user"]["username"] for d in sent) == sorted(m.username for m in members)
        assert {d["state"] for d in sent} == {"sent"}
        assert all(d["sent_at"] for d in sent)
        assert_error(api.get(f"/api/events/{event.pk}/deliveries/?state=lost"), 400, "state")


# --- the organiser's pages ------------------------------------------------------------------------


@pytest.mark.django_db
def test_organiser_pages_add_edit_delete_rules_and_show_the_log(
    clock: time_machine.Coordinates,
) -> None:
    event = event_at(timedelta(days=3))
    joined(event, 2)
    browser = Client()
    browser.force_login(event.organizer)
    page = f"/events/{event.pk}/messages/"
    listing = browser.get(page)
    assert listing.status_code == 200
    assert b"Pending: <strong>2</strong>" in listing.content
    refused = browser.post(page, {"kind": "reminder", "offset": "soon"})
    assert refused.status_code == 200
    assert b"ISO 8601" in refused.content
    added = browser.post(page, {"kind": "follow_up", "offset": "PT3H", "local_time": "18:00"})
    assert added.status_code == 302
    rule = MessageRule.objects.get(kind="follow_up")
    assert rule.deliveries.count() == 2
    edited = browser.post(
        f"{page}{rule.pk}/", {"kind": "follow_up", "offset": "P1D", "subject": "Thanks"}
    )
    assert edited.status_code == 302
    rule.refresh_from_db()
    assert (rule.offset, rule.local_time, rule.subject) == (timedelta(days=1), None, "Thanks")
    assert browser.post(f"{page}{rule.pk}/delete/").status_code == 302
    assert not MessageRule.objects.filter(pk=rule.pk).exists()
    stranger = Client()
    stranger.force_login(UserFactory.create())
    assert stranger.get(page).status_code == 403


@pytest.mark.django_db
def test_admin_shows_an_events_rules_and_its_deliveries(clock: time_machine.Coordinates) -> None:
    event = event_at(timedelta(hours=3))
    joined(event, 2)
    reminders.send_due()
    staff = UserFactory.create(username="root", is_staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(staff)
    page = browser.get(f"/admin/events/event/{event.pk}/change/").content.decode()
    assert "Reminder (before the start)" in page
    assert "sent 2" in page
    log = browser.get(f"/admin/events/delivery/?rule__event__id__exact={event.pk}")
    assert log.status_code == 200
    assert log.content.decode().count('field-state">Sent<') == 2
    assert browser.get("/admin/events/messagerule/").status_code == 200
