"""Password rules Django's validators leave out."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError


class NotOnlyWhitespaceValidator:
    """Eight spaces pass the length, common and numeric checks; they are not a password."""

    def validate(self, password: str, user: Any = None) -> None:
        if not password.strip():
            raise ValidationError(
                "This password is only whitespace.", code="password_only_whitespace"
            )

    def get_help_text(self) -> str:
        return "Your password can't be only spaces."
