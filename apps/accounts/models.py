"""What Eventide keeps about a user beside Django's own User: preferences used by later work."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models


def default_timezone() -> str:
    return str(settings.TIME_ZONE)


def new_calendar_token() -> str:
    """The secret part of a calendar feed's address (CONTRACT §10): 256 random bits."""
    return secrets.token_urlsafe(32)


class Profile(models.Model):
    """One per user, created on first use (`profiles.profile_of`)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="profile"
    )
    timezone = models.CharField(max_length=64, default=default_timezone, help_text="IANA name.")
    email_messages = models.BooleanField(
        default=True, help_text="Off: no lifecycle message emails at all."
    )
    calendar_token = models.CharField(
        max_length=64,
        unique=True,
        default=new_calendar_token,
        help_text="Secret of the personal calendar feed; a reset replaces it.",
    )

    def __str__(self) -> str:
        return f"profile of user {self.user_id}"
