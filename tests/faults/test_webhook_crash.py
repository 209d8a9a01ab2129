"""Webhook deliveries survive the processes around them (CONTRACT §9).

- The web process SIGKILLed right after a transition commits, before it could wake the relay:
  the delivery row committed with the transition, and the periodic relay (beat + a worker on the
  `webhooks` queue) delivers it.
- A relay worker SIGKILLed while a receiver is still answering: the delivery is sent again, with
  the same `webhook-id`, once its lease is over.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from pytest_django.fixtures import SettingsWrapper

from apps.events import lifecycle
from apps.events.models import Event
from apps.events.tests.factories import EventFactory, UserFactory
from apps.webhooks import endpoints
from apps.webhooks.models import Delivery
from apps.webhooks.tests.receiver import Receiver
from core.celery import app
from tests.support import processes
from tests.support.beat import run_only

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]
Status = Event.EventStatus

# A web process that dies (SIGKILL) the moment its transaction has committed, before any
# after-commit work: it would have woken the relay there.
DIE_AFTER_COMMIT = """
import os, signal, sys
import django
django.setup()
from apps.events import effects, lifecycle
effects.kick_relay = lambda: os.kill(os.getpid(), signal.SIGKILL)
lifecycle.cancel(int(sys.argv[1]))
"""


@pytest.fixture
def receiver(settings: SettingsWrapper) -> Iterator[Receiver]:
    settings.WEBHOOK_ALLOW_PRIVATE = True
    with Receiver() as server:
        yield server


def relay_worker(env: dict[str, str]) -> processes.ManagedProcess:
    worker = processes.worker(env, "-Q", "webhooks", name="webhooks").start()
    worker.wait_for_output("ready.", timeout=60)
    return worker


def test_a_web_process_killed_right_after_the_commit_still_delivers(
    receiver: Receiver, purged_broker: None
) -> None:
    organizer = UserFactory.create()
    hook = endpoints.create(organizer, receiver.url, ["event.cancelled"])
    receiver.secrets["/hook"] = hook.secret
    event = EventFactory.create(organizer=organizer)
    env = processes.child_env(WEBHOOK_ALLOW_PRIVATE="true")

    web = subprocess.run(
        [sys.executable, "-c", DIE_AFTER_COMMIT, str(event.pk)],
        env=env,
        cwd=processes.REPO,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert web.returncode == -9, web.stderr.decode()[-2000:]
    assert Event.objects.get(pk=event.pk).status == Status.CANCELLED
    assert Delivery.objects.get().state == Delivery.State.PENDING  # committed with the change

    run_only({"webhooks.relay": 1})
    beat = processes.beat(env).start()
    worker = relay_worker(env)
    try:
        processes.wait_for(lambda: receiver.requests, timeout=60)
        processes.wait_for(
            lambda: Delivery.objects.filter(state=Delivery.State.SENT).exists(), timeout=30
        )
    finally:
        beat.stop()
        worker.stop()
    (request,) = receiver.requests
    assert request.verified_on_arrival
    assert request.webhook_id == Delivery.objects.get().webhook_id


def test_a_relay_killed_mid_delivery_sends_again_with_the_same_webhook_id(
    receiver: Receiver, purged_broker: None
) -> None:
    organizer = UserFactory.create()
    endpoints.create(organizer, receiver.url, ["*"])
    env = processes.child_env(WEBHOOK_ALLOW_PRIVATE="true", WEBHOOK_LEASE_SECONDS="11")
    arrived, release = receiver.hold_next()

    first = relay_worker(env)
    lifecycle.cancel(EventFactory.create(organizer=organizer).pk)  # commits, wakes the relay
    try:
        assert arrived.wait(30), first.output()[-3000:]
        first.kill()
    finally:
        release.set()
        first.stop()
    second = relay_worker(env)
    try:

        def delivered() -> bool:
            app.send_task("webhooks.relay")  # what the periodic relay sends
            return Delivery.objects.filter(state=Delivery.State.SENT).exists()

        processes.wait_for(delivered, timeout=60, interval=2)
    finally:
        second.stop()
    delivery = Delivery.objects.get()
    ids = [request.webhook_id for request in receiver.requests]
    assert ids == [delivery.webhook_id] * 2
    assert delivery.attempts == 2
