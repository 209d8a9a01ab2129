"""/account/ (CONTRACT §6): preferences, the calendar feed and webhooks, through the pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from apps.accounts import profiles
from apps.events import lifecycle
from apps.events.models import Event
from apps.events.tests.factories import EventFactory, UserFactory
from apps.webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db
new_user = cast(Callable[..., User], UserFactory)


@pytest.fixture
def user() -> User:
    return new_user()


@pytest.fixture
def client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_account_needs_a_login() -> None:
    response = Client().get("/account/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_preferences_are_saved_and_a_bad_zone_is_a_form_error(client: Client, user: User) -> None:
    page = client.get("/account/")
    assert page.status_code == 200
    assert profiles.profile_of(user).calendar_token in page.content.decode()
    saved = client.post("/account/", {"timezone": "Asia/Kolkata"})
    assert saved.status_code == 302
    profile = profiles.profile_of(user)
    assert (profile.timezone, profile.email_messages) == ("Asia/Kolkata", False)
    bad = client.post("/account/", {"timezone": "Mars/Olympus", "email_messages": "on"})
    assert bad.status_code == 200
    assert "Select a valid choice" in bad.content.decode()
    assert profiles.profile_of(user).timezone == "Asia/Kolkata"


def test_calendar_reset_gives_a_new_address(client: Client, user: User) -> None:
    old = profiles.profile_of(user).calendar_token
    assert client.get(f"/calendars/{old}.ics").status_code == 200
    assert client.get("/account/calendar/reset/").status_code == 405
    assert client.post("/account/calendar/reset/").status_code == 302
    new = profiles.profile_of(user).calendar_token
    assert new != old
    assert Client().get(f"/calendars/{old}.ics").status_code == 404


def test_an_endpoint_shows_its_secret_once_and_a_private_url_is_refused(
    client: Client, user: User
) -> None:
    created = client.post(
        "/account/webhooks/", {"url": "https://93.184.216.34/in", "event_types": ["*"]}
    )
    assert created.status_code == 200
    endpoint = Endpoint.objects.get(owner=user)
    assert endpoint.secret in created.content.decode()
    assert endpoint.secret not in client.get("/account/").content.decode()
    refused = client.post(
        "/account/webhooks/", {"url": "http://127.0.0.1:8000/x", "event_types": ["*"]}
    )
    assert refused.status_code == 200
    assert Endpoint.objects.filter(owner=user).count() == 1
    assert "errorlist" in refused.content.decode()


def test_endpoints_of_others_are_404_and_delete_asks_first(client: Client, user: User) -> None:
    mine = Endpoint.objects.create(
        owner=user,
        url="https://a.example.com/",
        event_types=["*"],
        secret="whsec_x",
        created_at=timezone.now(),
    )
    theirs = Endpoint.objects.create(
        owner=new_user(),
        url="https://b.example.com/",
        event_types=["*"],
        secret="whsec_y",
        created_at=timezone.now(),
    )
    assert client.get(f"/account/webhooks/{theirs.pk}/deliveries/").status_code == 404
    assert client.post(f"/account/webhooks/{theirs.pk}/delete/").status_code == 404
    assert client.get(f"/account/webhooks/{mine.pk}/deliveries/").status_code == 200
    ask = client.get(f"/account/webhooks/{mine.pk}/delete/")
    assert ask.status_code == 200
    assert "Yes, delete the endpoint" in ask.content.decode()
    assert Endpoint.objects.filter(pk=mine.pk).exists()
    client.post(f"/account/webhooks/{mine.pk}/toggle/")
    mine.refresh_from_db()
    assert mine.is_active is False
    assert client.post(f"/account/webhooks/{mine.pk}/delete/").status_code == 302
    assert not Endpoint.objects.filter(pk=mine.pk).exists()
    assert Endpoint.objects.filter(pk=theirs.pk).exists()


def test_the_delivery_log_lists_a_transition_and_retries_it(client: Client, user: User) -> None:
    endpoint = Endpoint.objects.create(
        owner=user,
        url="https://a.example.com/",
        event_types=["*"],
        secret="whsec_x",
        created_at=timezone.now(),
    )
    event = cast(Event, EventFactory(organizer=user, status=Event.EventStatus.DRAFT))
    lifecycle.confirm(event.pk, actor=user)
    delivery = Delivery.objects.get(endpoint=endpoint)
    log = client.get(f"/account/webhooks/{endpoint.pk}/deliveries/").content.decode()
    assert f"msg_{delivery.pk}" in log
    assert "event.confirmed" in log
    retried = client.post(f"/account/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/retry/")
    assert retried.status_code == 302
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.PENDING
