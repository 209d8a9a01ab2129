"""Reading and changing a user's profile (time zone, message opt-out)."""

from __future__ import annotations

from functools import cache
from typing import Any
from zoneinfo import available_timezones

from django.contrib.auth.models import User

from apps.accounts.models import Profile, new_calendar_token


@cache
def known_timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_known_timezone(name: str) -> bool:
    """An IANA name zoneinfo knows; looked up in its list, so no path or NUL reaches the loader."""
    return name in known_timezones()


def profile_of(user: User) -> Profile:
    profile, _ = Profile.objects.get_or_create(user_id=user.pk)
    return profile


def update_profile(user: User, *, email: str | None = None, **changes: Any) -> Profile:
    """Set the given profile fields (and the email, which lives on the User)."""
    profile = profile_of(user)
    if changes:
        for name, value in changes.items():
            setattr(profile, name, value)
        profile.save(update_fields=list(changes))
    if email is not None:
        User.objects.filter(pk=user.pk).update(email=email)
        user.email = email
    return profile


def reset_calendar_token(user: User) -> Profile:
    """A new secret for the user's calendar feed: the old address answers 404 from now on."""
    profile = profile_of(user)
    profile.calendar_token = new_calendar_token()
    profile.save(update_fields=["calendar_token"])
    return profile


def user_by_calendar_token(token: str) -> User | None:
    """The user whose feed `token` opens, or None for an unknown (or reset) token."""
    profile = Profile.objects.select_related("user").filter(calendar_token=token).first()
    return profile.user if profile is not None and profile.user.is_active else None
