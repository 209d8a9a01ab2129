"""API tokens (django-rest-knox): stored hashed, one per login, each expiring, revocable.

Knox rather than DRF's authtoken: DRF keeps one plaintext token per user forever, so expiry and
logout would have to be built around it; knox stores only a digest and has both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from knox.models import AuthToken


@dataclass(frozen=True)
class IssuedToken:
    key: str
    expires_at: datetime


def issue(user: AbstractBaseUser) -> IssuedToken:
    """A new token for `user`, expiring after API_TOKEN_TTL_DAYS; only its digest is stored.

    The user's expired tokens are deleted here, not on every authenticated request."""
    AuthToken.objects.filter(user_id=user.pk, expiry__lt=timezone.now()).delete()
    instance, key = AuthToken.objects.create(user=user)
    assert instance.expiry is not None  # TOKEN_TTL is always set
    return IssuedToken(key=key, expires_at=instance.expiry)


def revoke(token: AuthToken) -> None:
    """The token stops working at once (its row is gone)."""
    token.delete()
