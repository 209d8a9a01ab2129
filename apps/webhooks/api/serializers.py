"""JSON shapes of /api/webhooks/ (CONTRACT §9)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.events.api.serializers import StrictFieldsMixin, TextField
from apps.events.representation import iso
from apps.webhooks.models import ALL_TYPES, EVENT_TYPES, Delivery, Endpoint

TYPE_CHOICES = [*EVENT_TYPES, ALL_TYPES]


class EndpointSerializer(serializers.ModelSerializer):
    """An endpoint as its owner sees it: never its secret, after the response that created it."""

    event_types = serializers.ListField(child=serializers.ChoiceField(choices=TYPE_CHOICES))

    class Meta:
        model = Endpoint
        fields = ["id", "url", "event_types", "is_active", "created_at"]
        read_only_fields = fields


class CreatedEndpointSerializer(EndpointSerializer):
    """The answer to a create: the one time `secret` is shown."""

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class EventTypesField(serializers.ListField):
    """A list of names, its errors flat (`{"event_types": ["..."]}`), never per index; which names
    are known is `endpoints`' rule."""

    child = serializers.CharField()

    def to_internal_value(self, data: Any) -> list[str]:
        if not isinstance(data, list):
            raise serializers.ValidationError('A list of event types, or ["*"].')
        if len(data) > len(TYPE_CHOICES):
            raise serializers.ValidationError(f"At most {len(TYPE_CHOICES)} event types.")
        if not all(isinstance(name, str) for name in data):
            raise serializers.ValidationError("Each event type is a string.")
        return list(data)


class EndpointWriteSerializer(StrictFieldsMixin, serializers.Serializer):
    """What an owner sets: url and event_types on create; any of them, and is_active, later.
    The URL's address and the types are checked by `endpoints`."""

    url = TextField(max_length=2000)
    event_types = EventTypesField(help_text=f'Some of {", ".join(EVENT_TYPES)}; or ["*"] for all.')
    is_active = serializers.BooleanField(required=False)

    def validate_is_active(self, value: bool) -> bool:
        if self.instance is None:
            raise serializers.ValidationError("A new endpoint is active; set this later.")
        return value


class WebhookDeliverySerializer(serializers.ModelSerializer):
    """One delivery and the outcome of its latest attempt."""

    class Meta:
        model = Delivery
        fields = [
            "id",
            "change_id",
            "type",
            "state",
            "attempts",
            "last_status_code",
            "next_attempt_at",
        ]
        read_only_fields = fields

    def to_representation(self, instance: Delivery) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        data["next_attempt_at"] = iso(instance.next_attempt_at)
        return data
