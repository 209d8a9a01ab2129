"""What Eventide keeps about a user beside Django's own User: preferences used by later work."""

from __future__ import annotations

from django.conf import settings
from django.db import models


def default_timezone() -> str:
    return str(settings.TIME_ZONE)


class Profile(models.Model):
    """One per user, created on first use (`profiles.profile_of`)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="profile"
    )
    timezone = models.CharField(max_length=64, default=default_timezone, help_text="IANA name.")
    email_messages = models.BooleanField(
        default=True, help_text="Off: no lifecycle message emails at all."
    )

    def __str__(self) -> str:
        return f"profile of user {self.user_id}"
