"""An owner's endpoints and their delivery log (CONTRACT §9): the rules every edge calls."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet

from apps.events import clock, effects
from apps.events.errors import InvalidValue
from apps.webhooks import addresses
from apps.webhooks.models import ALL_TYPES, EVENT_TYPES, Delivery, Endpoint

SECRET_BYTES = 24


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and the base64 of random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def check_event_types(event_types: Any) -> list[str]:
    if not isinstance(event_types, list) or not event_types:
        raise InvalidValue('A non-empty list of event types, or ["*"].', field="event_types")
    unknown = [t for t in event_types if t not in (*EVENT_TYPES, ALL_TYPES)]
    if unknown:
        raise InvalidValue(
            f'Unknown event type: {unknown[0]}. Known: {", ".join(EVENT_TYPES)}, or "*".',
            field="event_types",
        )
    if ALL_TYPES in event_types and len(event_types) > 1:
        raise InvalidValue('"*" stands alone: it already means every type.', field="event_types")
    return sorted(set(event_types), key=[*EVENT_TYPES, ALL_TYPES].index)


def owned_by(user: User) -> QuerySet[Endpoint]:
    return Endpoint.objects.filter(owner=user).order_by("id")


def create(owner: User, url: str, event_types: Sequence[str]) -> Endpoint:
    """A new active endpoint; its `secret` is shown to the owner this once."""
    return Endpoint.objects.create(
        owner=owner,
        url=addresses.check_url(url),
        event_types=check_event_types(event_types),
        secret=new_secret(),
        created_at=clock.now(),
    )


def update(endpoint: Endpoint, **changes: Any) -> Endpoint:
    """Change url, event_types or is_active; turning an endpoint back on clears why it was off."""
    if "url" in changes:
        endpoint.url = addresses.check_url(changes["url"])
    if "event_types" in changes:
        endpoint.event_types = check_event_types(changes["event_types"])
    if "is_active" in changes:
        endpoint.is_active = bool(changes["is_active"])
        if endpoint.is_active:
            endpoint.disabled_reason = ""
    endpoint.save()
    if endpoint.is_active:
        # Deliveries that waited while it was off are due again.
        effects.relay_after_commit()
    return endpoint


def deliveries(endpoint: Endpoint) -> QuerySet[Delivery]:
    """The endpoint's delivery log, newest first."""
    return endpoint.deliveries.order_by("-id")


def retry(delivery: Delivery) -> Delivery:
    """Send it again now, whatever its state (same `webhook-id`). One past its retry window
    gets this one attempt; one of an endpoint that is off waits until it is turned back on."""
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(
            state=Delivery.State.PENDING, next_attempt_at=clock.now()
        )
        effects.relay_after_commit()
    delivery.refresh_from_db()
    return delivery
