"""The one-click unsubscribe link of every message email (RFC 8058), signed, no login needed.

The token carries the event and the person, signed with SECRET_KEY under a salt of its own: a
signature made for any other purpose, or for another event or person, does not verify.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.core import signing
from django.urls import get_script_prefix, get_urlconf, reverse

SALT = "eventide.messages.unsubscribe"


@dataclass(frozen=True)
class Unsubscribe:
    event_id: int
    user_id: int


def token_for(event_id: int, user_id: int) -> str:
    return signing.dumps([event_id, user_id], salt=SALT)


def read_token(token: str) -> Unsubscribe | None:
    """The event and person a token was signed for; None when forged, altered or garbled."""
    try:
        value = signing.loads(token, salt=SALT)
    except (signing.BadSignature, ValueError, TypeError, UnicodeError):
        return None
    match value:
        case [int() as event_id, int() as user_id] if event_id > 0 and user_id > 0:
            return Unsubscribe(event_id, user_id)
    return None


def url_for(event_id: int, user_id: int) -> str:
    """The absolute link (SITE_URL) a mail client POSTs to, and a person opens."""
    before, after = _path_around_token(get_script_prefix(), get_urlconf())
    return f"{settings.SITE_URL}{before}{token_for(event_id, user_id)}{after}"


_TOKEN = "token"  # signing's alphabet (URL-safe base64 and ":") needs no quoting in a path


@cache
def _path_around_token(script_prefix: str, urlconf: str | None) -> tuple[str, str]:
    """The link's path before and after the token, reversed once per URL configuration:
    `reverse()` cost 87 µs of an email's 150 µs, five times the token's signature."""
    before, _, after = reverse("events:unsubscribe", args=[_TOKEN]).rpartition(_TOKEN)
    return before, after
