"""Deliveries end to end in process: transitions write them, the relay signs and sends them to a
real HTTP receiver, which verifies each with `standardwebhooks` (CONTRACT §9)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any, cast

import pytest
import time_machine
from django.contrib.auth.models import User
from pytest_django import DjangoAssertNumQueries
from pytest_django.fixtures import SettingsWrapper
from standardwebhooks.webhooks import WebhookVerificationError

from apps.events import lifecycle, sql
from apps.events.models import Event, EventStatusChange
from apps.events.periodic import PERIODIC_TASKS
from apps.events.tests.factories import EventFactory, UserFactory
from apps.webhooks import endpoints, relay
from apps.webhooks.models import Delivery, Endpoint
from apps.webhooks.tests.receiver import Receiver, Request
from core.celery import app

Status = Event.EventStatus
State = Delivery.State
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(params=["one statement", "portable"])
def sweep_implementation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The sweeps write deliveries both ways: in their one statement, and in the portable path."""
    if request.param == "portable":
        monkeypatch.setattr(sql, "is_postgresql", lambda: False)
    return str(request.param)


@pytest.fixture
def organizer() -> User:
    return UserFactory.create(username="organizer")


def endpoint(owner: User, url: str, *types: str) -> Endpoint:
    return endpoints.create(owner, url, list(types) or ["*"])


def lifecycle_of_one_event(organizer: User, clock: time_machine.Coordinates) -> Event:
    """DRAFT → CONFIRMED (organizer) → ONGOING → COMPLETED → ARCHIVED (sweeps)."""
    event = EventFactory.create(
        organizer=organizer,
        status=Status.DRAFT,
        start_date=NOW + timedelta(hours=1),
        end_date=NOW + timedelta(hours=3),
    )
    lifecycle.confirm(event.pk, actor=organizer)
    clock.move_to(NOW + timedelta(hours=2))
    assert len(lifecycle.start_started()) == 1
    clock.move_to(NOW + timedelta(hours=4))
    assert len(lifecycle.complete_ended()) == 1
    clock.move_to(NOW + timedelta(days=100))
    assert len(lifecycle.archive_completed()) == 1
    return event


def test_every_transition_reaches_each_subscribed_endpoint_exactly_once(
    organizer: User,
    receiver: Receiver,
    frozen_clock: time_machine.Coordinates,
    sweep_implementation: str,
) -> None:
    everything = endpoint(organizer, receiver.url + "/all")
    completions = endpoint(organizer, receiver.url + "/completed", "event.completed")
    stranger = endpoint(UserFactory.create(), receiver.url + "/stranger")

    event = lifecycle_of_one_event(organizer, frozen_clock)
    cancelled = EventFactory.create(organizer=organizer, start_date=NOW + timedelta(days=200))
    lifecycle.cancel(cancelled.pk, actor=organizer)
    assert relay.relay_due() == 6
    assert relay.relay_due() == 0  # nothing is sent twice

    by_path: dict[str, list[Request]] = {r.path: [] for r in receiver.requests}
    for request in receiver.requests:
        by_path[request.path].append(request)
    secrets = {"/hook/all": everything.secret, "/hook/completed": completions.secret}
    assert set(by_path) == set(secrets)
    assert stranger.deliveries.count() == 0
    # Sent side by side, so they may arrive in any order: the change ids give the order.
    payloads = {
        path: sorted(
            (request.verified(secrets[path]) for request in requests),
            key=lambda payload: payload["data"]["change_id"],
        )
        for path, requests in by_path.items()
    }
    assert [p["type"] for p in payloads["/hook/all"]] == [
        "event.confirmed",
        "event.ongoing",
        "event.completed",
        "event.archived",
        "event.cancelled",
    ]
    assert [p["type"] for p in payloads["/hook/completed"]] == ["event.completed"]
    changes = list(EventStatusChange.objects.filter(event=event).values_list("id", "from_status"))
    assert [(p["data"]["change_id"], p["data"]["previous_status"]) for p in payloads["/hook/all"]][
        :4
    ] == changes
    first = payloads["/hook/all"][0]
    assert first["data"]["event"]["id"] == event.pk
    assert first["data"]["event"]["organizer"] == {"id": organizer.pk, "username": "organizer"}
    assert set(first) == {"type", "timestamp", "data"}
    ids = [request.webhook_id for request in receiver.requests]
    assert len(set(ids)) == len(ids) == 6
    assert Delivery.objects.filter(state=State.SENT).count() == 6


def test_a_sweep_writes_its_deliveries_in_its_one_statement(
    organizer: User, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    endpoint(organizer, "http://93.184.216.34/hook")
    Event.objects.bulk_create(
        Event(
            title=f"e{i}",
            organizer=organizer,
            start_date=NOW - timedelta(hours=2),
            end_date=NOW - timedelta(minutes=1),
            status=Status.CONFIRMED,
        )
        for i in range(500)
    )
    with django_assert_max_num_queries(1):
        changes = lifecycle.complete_ended()
    assert len(changes) == 500
    assert set(Delivery.objects.values_list("change_id", flat=True)) == {
        c.change_id for c in changes
    }
    assert set(Delivery.objects.values_list("type", "state")) == {("event.completed", "pending")}


def test_a_failing_receiver_is_retried_with_growing_gaps_under_one_webhook_id(
    organizer: User, receiver: Receiver, frozen_clock: time_machine.Coordinates
) -> None:
    hook = endpoint(organizer, receiver.url)
    receiver.secrets["/hook"] = hook.secret
    receiver.answer(500, 503, 500, 502)
    lifecycle.cancel(EventFactory.create(organizer=organizer).pk)
    attempts_at = []
    delivery = Delivery.objects.get()
    while delivery.state == State.PENDING:
        assert delivery.next_attempt_at is not None
        frozen_clock.move_to(delivery.next_attempt_at)
        attempts_at.append(delivery.next_attempt_at)
        assert relay.relay_due() == 1
        delivery.refresh_from_db()
    assert delivery.state == State.SENT
    assert (delivery.attempts, delivery.last_status_code) == (5, 200)
    gaps = [later - earlier for earlier, later in pairwise(attempts_at)]
    assert len(gaps) == len(set(gaps)) == 4
    assert gaps == sorted(gaps)
    assert {request.webhook_id for request in receiver.requests} == {delivery.webhook_id}
    # Each attempt is signed with its own time, so a receiver's 5-minute window accepts it.
    assert [request.verified_on_arrival for request in receiver.requests] == [True] * 5


def test_retries_go_on_for_at_least_three_days_then_stop(
    organizer: User, receiver: Receiver, frozen_clock: time_machine.Coordinates
) -> None:
    endpoint(organizer, receiver.url)
    receiver.answer(*[500] * 100)
    lifecycle.cancel(EventFactory.create(organizer=organizer).pk)
    delivery = Delivery.objects.get()
    while delivery.state == State.PENDING:
        assert delivery.next_attempt_at is not None
        frozen_clock.move_to(delivery.next_attempt_at)
        relay.relay_due()
        delivery.refresh_from_db()
    assert delivery.state == State.FAILED
    last_attempt = datetime.fromtimestamp(
        int(receiver.requests[-1].headers["webhook-timestamp"]), UTC
    )
    assert last_attempt - NOW >= timedelta(days=3)
    assert delivery.attempts == len(receiver.requests) < 30


def test_a_410_turns_the_endpoint_off(
    organizer: User, receiver: Receiver, frozen_clock: time_machine.Coordinates
) -> None:
    hook = endpoint(organizer, receiver.url)
    receiver.answer(410)
    lifecycle.cancel(EventFactory.create(organizer=organizer).pk)
    relay.relay_due()
    hook.refresh_from_db()
    assert not hook.is_active
    assert Delivery.objects.get().state == State.FAILED
    lifecycle.cancel(EventFactory.create(organizer=organizer).pk)
    frozen_clock.shift(timedelta(days=1))
    assert relay.relay_due() == 0
    assert len(receiver.requests) == 1
    assert Delivery.objects.count() == 1  # an endpoint that is off gets no new deliveries


def test_a_410_stops_the_batch_claimed_while_it_was_sent(
    organizer: User, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The relay claims the next batch while one is on the wire: when that one meets a 410, the
    claimed rows of the endpoint are never sent and go back as they were before the claim."""
    monkeypatch.setattr(relay, "BATCH_SIZE", 2)
    hook = endpoint(organizer, receiver.url)
    for _ in range(4):
        lifecycle.cancel(EventFactory.create(organizer=organizer).pk)
    receiver.answer(410, 410)
    assert relay.relay_due() == 2
    assert len(receiver.requests) == 2
    hook.refresh_from_db()
    assert not hook.is_active
    handed_back = Delivery.objects.filter(state=State.PENDING).order_by("id")
    assert [(d.attempts, d.next_attempt_at) for d in handed_back] == [(0, NOW), (0, NOW)]
    assert Delivery.objects.filter(state=State.FAILED).count() == 2


def test_a_timeout_or_refused_connection_is_retried(
    organizer: User, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint(organizer, "http://127.0.0.1:9/closed")  # the discard port: nothing listens
    lifecycle.cancel(EventFactory.create(organizer=organizer).pk)
    relay.relay_due()
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == (
        State.PENDING,
        1,
        None,
    )
    assert "ConnectError" in delivery.last_error
    assert delivery.next_attempt_at == NOW + relay.retry_delay(1)


def test_a_forged_signature_fails_verification(organizer: User, receiver: Receiver) -> None:
    hook = endpoint(organizer, receiver.url)
    lifecycle.cancel(EventFactory.create(organizer=organizer).pk)
    relay.relay_due()
    (request,) = receiver.requests
    request.verified(hook.secret)
    with pytest.raises(WebhookVerificationError):
        request.verified(endpoints.new_secret())
    tampered = type(request)(request.path, request.headers, request.body.replace(b"CANC", b"COMP"))
    with pytest.raises(WebhookVerificationError):
        tampered.verified(hook.secret)


def test_an_address_turned_private_is_refused_at_send_time(
    organizer: User, receiver: Receiver, settings: SettingsWrapper
) -> None:
    endpoint(organizer, receiver.url)
    settings.WEBHOOK_ALLOW_PRIVATE = False
    lifecycle.cancel(EventFactory.create(organizer=organizer).pk)
    relay.relay_due()
    delivery = Delivery.objects.get()
    assert receiver.requests == []
    assert delivery.state == State.PENDING
    assert "private address" in delivery.last_error


def test_a_retry_by_hand_sends_again_now_with_the_same_webhook_id(
    organizer: User, receiver: Receiver
) -> None:
    endpoint(organizer, receiver.url)
    lifecycle.cancel(EventFactory.create(organizer=organizer).pk)
    relay.relay_due()
    delivery = endpoints.retry(Delivery.objects.get())
    assert delivery.state == State.PENDING
    relay.relay_due()
    assert [r.webhook_id for r in receiver.requests] == [delivery.webhook_id] * 2
    assert receiver.requests[0].body == receiver.requests[1].body


def test_a_relay_that_died_mid_send_leaves_the_delivery_to_the_next_after_its_lease(
    organizer: User, receiver: Receiver, frozen_clock: time_machine.Coordinates
) -> None:
    endpoint(organizer, receiver.url)
    lifecycle.cancel(EventFactory.create(organizer=organizer).pk)
    (claimed,) = relay.claim(NOW)  # claimed, then the process died: nothing recorded
    assert relay.relay_due() == 0  # leased: no second relay sends it meanwhile
    frozen_clock.shift(relay.lease())
    assert relay.relay_due() == 1
    assert [r.webhook_id for r in receiver.requests] == [claimed.webhook_id]
    assert Counter(Delivery.objects.values_list("state", flat=True)) == {State.SENT: 1}


def test_the_relay_runs_on_a_queue_of_its_own() -> None:
    router = cast(Any, app.amqp).router  # the router the publisher uses (untyped in celery-types)
    assert router.route({}, relay.RELAY_TASK)["queue"].name == relay.QUEUE == "webhooks"
    assert router.route({}, "events.wake_up")["queue"].name == "celery"
    assert relay.RELAY_TASK in {spec.task for spec in PERIODIC_TASKS}


def test_an_endpoint_turned_back_on_gets_what_waited(
    organizer: User, receiver: Receiver, frozen_clock: time_machine.Coordinates
) -> None:
    hook = endpoint(organizer, receiver.url)
    receiver.answer(410)
    lifecycle.cancel(EventFactory.create(organizer=organizer).pk)
    relay.relay_due()
    waiting = endpoints.retry(Delivery.objects.get())
    assert relay.relay_due() == 0  # the endpoint is off: nothing is sent
    hook.refresh_from_db()
    endpoints.update(hook, is_active=True)
    assert relay.relay_due() == 1
    waiting.refresh_from_db()
    assert (waiting.state, waiting.last_status_code) == (State.SENT, 200)
    assert hook.disabled_reason == ""
