"""The signed-in user behind a request, typed: what `login_required`/`IsAuthenticated` ensured."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied


def signed_in(user: object) -> User:
    """`request.user` as a User; 403 (PermissionDenied) for anyone else, never reached behind
    `login_required`/`IsAuthenticated`, which answer first."""
    if not isinstance(user, User):
        raise PermissionDenied("Sign in first.")
    return user
