"""JSON shapes of the accounts API."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from apps.accounts import profiles
from apps.events.api.serializers import StrictFieldsMixin, TextField

User = get_user_model()


class StrictBooleanField(serializers.BooleanField):
    """`true` or `false` and nothing else: DRF's BooleanField would take "yes", 1 or "on"."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class RegisterSerializer(StrictFieldsMixin, serializers.Serializer):
    """A new account and its API token."""

    id = serializers.IntegerField(read_only=True)
    username = TextField(max_length=150)
    email = serializers.EmailField(max_length=254, write_only=True)
    password = TextField(
        max_length=128, write_only=True, trim_whitespace=False, style={"input_type": "password"}
    )
    token = serializers.CharField(read_only=True)

    def validate_username(self, value: str) -> str:
        User.username_validator(value)  # type: ignore[attr-defined]
        if User.objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError("This username is taken.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        candidate = User(username=attrs["username"], email=attrs["email"])
        try:
            password_validation.validate_password(attrs["password"], candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        return attrs


class TokenSerializer(StrictFieldsMixin, serializers.Serializer):
    """Credentials in; a new token and when it expires out."""

    username = TextField(max_length=150, write_only=True)
    password = TextField(max_length=128, write_only=True, trim_whitespace=False)
    token = serializers.CharField(read_only=True)
    expires_at = serializers.DateTimeField(read_only=True)


class MeSerializer(StrictFieldsMixin, serializers.Serializer):
    """The signed-in user's account and preferences; a PATCH (partial) sets any of them."""

    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    email = serializers.EmailField(max_length=254)
    timezone = TextField(max_length=64, help_text="IANA name, e.g. Europe/London.")
    email_messages = StrictBooleanField(help_text="false: no lifecycle message emails at all.")
    calendar_url = serializers.URLField(
        read_only=True,
        help_text="Secret iCalendar feed of my events; POST me/calendar/reset/ for a new one.",
    )

    def validate_timezone(self, value: str) -> str:
        if not profiles.is_known_timezone(value):
            raise serializers.ValidationError("Unknown time zone: use an IANA name.")
        return value
