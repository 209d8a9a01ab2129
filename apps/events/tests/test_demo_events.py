"""`load_demo_events`, the data `make dev` shows: every status, and a live transition soon."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command

from apps.events import clock, lifecycle, selectors
from apps.events.management.commands.load_demo_events import DEMO_PASSWORD, DEMO_USERNAME
from apps.events.models import Event, Participation
from apps.events.tests.factories import EventFactory

pytestmark = pytest.mark.django_db
Status = Event.EventStatus


def load() -> str:
    out = StringIO()
    call_command("load_demo_events", stdout=out)
    return out.getvalue()


def test_demo_data_has_every_status_and_a_demo_login() -> None:
    output = load()
    assert f"for user '{DEMO_USERNAME}' (password '{DEMO_PASSWORD}')" in output
    assert set(Event.objects.values_list("status", flat=True)) == set(Status.values)
    user = authenticate(username=DEMO_USERNAME, password=DEMO_PASSWORD)
    assert user is not None
    assert user.is_staff


def test_demo_data_has_transitions_due_within_minutes() -> None:
    load()
    soon = clock.now() + timedelta(minutes=2)
    assert (
        Event.objects.filter(lifecycle.ended_q(soon))
        .exclude(lifecycle.ended_q(clock.now()))
        .exists()
    ), "no active event ends within two minutes"
    assert Event.objects.filter(
        status=Status.CONFIRMED, start_date__gt=clock.now(), start_date__lte=soon
    ).exists(), "no confirmed event starts within two minutes"


def test_demo_user_has_someone_elses_events_to_join_and_one_joined() -> None:
    load()
    demo = authenticate(username=DEMO_USERNAME, password=DEMO_PASSWORD)
    others = selectors.discoverable().exclude(organizer=demo)
    assert others.count() >= 2
    assert Participation.objects.filter(user=demo, event__in=others).count() == 1


def test_loading_again_replaces_the_demo_events() -> None:
    load()
    first = Event.objects.count()
    load()
    assert Event.objects.count() == first


def test_loading_again_keeps_what_the_user_made_as_demo() -> None:
    load()
    demo = User.objects.get(username=DEMO_USERNAME)
    own = EventFactory.create(organizer=demo, title="My real meetup", status=Status.CONFIRMED)
    # Same title as a demo row, but the user's own text: still the user's.
    twin = EventFactory.create(organizer=demo, title="Workshop next week", description="mine")
    joined = EventFactory.create(status=Status.CONFIRMED)
    Participation.objects.create(event=joined, user=demo)
    demo_count = Event.objects.count() - 3
    for _ in range(3):
        output = load()
    assert "Replaced 12 earlier demo event(s); no other event changed." in output
    assert Event.objects.filter(pk__in=[own.pk, twin.pk, joined.pk]).count() == 3
    assert Participation.objects.filter(event=joined, user=demo).exists()
    assert Event.objects.count() == demo_count + 3


def test_demo_titles_read_right_for_anonymous_visitors() -> None:
    load()
    assert not Event.objects.filter(title__icontains="you").exists()
