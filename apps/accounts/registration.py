"""Creating an account through the API (the sign-up page uses Django's UserCreationForm)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from apps.accounts import tokens

User = get_user_model()


class UsernameTaken(Exception):
    """The same name was registered concurrently (the form checked it first)."""


def register(
    username: str, email: str, password: str
) -> tuple[AbstractBaseUser, tokens.IssuedToken]:
    """A new user and its first API token; the caller has validated the password."""
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
            return user, tokens.issue(user)
    except IntegrityError as exc:
        raise UsernameTaken(username) from exc
