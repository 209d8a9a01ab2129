"""JSON shapes of the API: the Event, its history, and the errors (accounts: apps.accounts.api)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from rest_framework import serializers

from apps.events import editing, errors, zones
from apps.events.models import Event, EventStatusChange

User = get_user_model()

MAX_CAPACITY = 2**31 - 1
MAX_DESCRIPTION = 10_000


class StrictFieldsMixin:
    """Reject keys the serializer does not accept, naming them, instead of ignoring them."""

    read_only_message = "This field is read-only."
    unknown_message = "Unknown field."
    field_messages: dict[str, str] = {}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            fields = self.fields  # type: ignore[attr-defined]
            writable = {name for name, field in fields.items() if not field.read_only}
            errors = {}
            for key in data:
                if key in writable:
                    continue
                if key in self.field_messages:
                    errors[key] = [self.field_messages[key]]
                elif key in fields:
                    errors[key] = [self.read_only_message]
                else:
                    errors[str(key)] = [self.unknown_message]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]


class UserRefSerializer(serializers.Serializer):
    """A user as others see them."""

    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)


class EventSerializer(serializers.ModelSerializer):
    """An event as every client sees it."""

    status = serializers.ChoiceField(choices=Event.EventStatus.choices, read_only=True)
    organizer = UserRefSerializer(read_only=True)
    participant_count = serializers.IntegerField(read_only=True, min_value=0)

    class Meta:
        model = Event
        fields = [
            "id",
            "title",
            "description",
            "venue",
            "timezone",
            "start_date",
            "end_date",
            "status",
            "capacity",
            "participant_count",
            "organizer",
            "created_at",
            "updated_at",
            "completed_at",
        ]
        read_only_fields = fields

    def to_representation(self, instance: Event) -> dict[str, Any]:
        """The same JSON DRF's fields would give, built directly: a list page serialises
        20-100 events per request, and the generic field machinery was most of its cost."""
        organizer = instance.organizer
        tz = zones.zone(instance.timezone)
        return {
            "id": instance.pk,
            "title": instance.title,
            "description": instance.description,
            "venue": instance.venue,
            "timezone": tz.key,
            "start_date": _iso(instance.start_date, tz),
            "end_date": _iso(instance.end_date, tz),
            "status": instance.status,
            "capacity": instance.capacity,
            "participant_count": getattr(instance, "participant_count", None),
            "organizer": {"id": organizer.pk, "username": organizer.get_username()},
            "created_at": _iso(instance.created_at, tz),
            "updated_at": _iso(instance.updated_at, tz),
            "completed_at": _iso(instance.completed_at, tz),
        }


def _iso(value: datetime | None, tz: ZoneInfo) -> str | None:
    """ISO 8601 with the offset `tz` has at that instant (Z when it is zero, as DRF writes it)."""
    if value is None:
        return None
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class LocalDateTimeField(serializers.DateTimeField):
    """An ISO 8601 datetime; one without an offset stays naive here, for `editing` to read in
    the event's zone (the one sent in the same request first)."""

    def enforce_timezone(self, value: datetime) -> datetime:
        if value.tzinfo is None:
            return value
        return super().enforce_timezone(value)


class TimezoneField(serializers.CharField):
    """An IANA zone name, checked by the one rule (`zones.check_timezone`)."""

    def to_internal_value(self, data: Any) -> str:
        try:
            return zones.check_timezone(data).key
        except errors.InvalidValue as invalid:
            raise serializers.ValidationError(invalid.message) from invalid


class TextField(serializers.CharField):
    """A string and nothing else: DRF's CharField would quietly turn 5 into "5"."""

    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return str(super().to_internal_value(data))


class EventWriteSerializer(StrictFieldsMixin, serializers.Serializer):
    """What an organizer may set: creating (POST) or editing (PATCH) an event.

    Naive datetimes are read in the event's zone: `timezone` when it is sent too, else the
    event's own (TIME_ZONE for a new event); sending only `timezone` moves no instant. The rules
    that span fields or depend on the event's state (dates, capacity, status) are `editing`'s,
    under the row lock.
    """

    field_messages = {
        "status": "Status is not writable: use the confirm, cancel and complete actions.",
    }

    title = TextField(max_length=200)
    description = TextField(max_length=MAX_DESCRIPTION, allow_blank=True, required=False)
    venue = TextField(max_length=200, allow_blank=True, required=False)
    timezone = TimezoneField(
        max_length=64,
        required=False,
        help_text="IANA name (default TIME_ZONE, Europe/London); naive datetimes are read in it.",
    )
    start_date = LocalDateTimeField(help_text="Naive: local time in the event's zone.")
    end_date = LocalDateTimeField(
        allow_null=True, required=False, help_text="After start_date. Naive: the event's zone."
    )
    capacity = serializers.IntegerField(
        min_value=1, max_value=MAX_CAPACITY, allow_null=True, required=False
    )

    def create(self, validated_data: dict[str, Any]) -> Event:
        return editing.create_event(self.context["request"].user, **validated_data)

    def update(self, instance: Event, validated_data: dict[str, Any]) -> Event:
        return editing.update_event(instance.pk, **validated_data)


class StatusChangeSerializer(serializers.ModelSerializer):
    """One transition of the event: who (null for the system; shown only to the event's organizer
    and staff, null for anyone else), when, from where."""

    actor = UserRefSerializer(read_only=True, allow_null=True)

    def to_representation(self, instance: EventStatusChange) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        if not self.context.get("show_actors"):
            data["actor"] = None
        return data

    class Meta:
        model = EventStatusChange
        fields = ["from_status", "to_status", "at", "actor", "source"]
        read_only_fields = fields


class ErrorSerializer(serializers.Serializer):
    """Every 401, 403, 404, 405, 409, 415 and 429, and a 400 that concerns the whole request."""

    detail = serializers.CharField()
