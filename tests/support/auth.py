"""API credentials for tests: a knox token, as `POST /api/auth/token/` would issue."""

from __future__ import annotations

from typing import Any

from knox.models import AuthToken


def token_for(user: Any) -> str:
    """A new token of `user` (expiring after API_TOKEN_TTL_DAYS), for `Authorization: Token`."""
    _, key = AuthToken.objects.create(user=user)
    return str(key)
