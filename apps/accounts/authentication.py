"""`Authorization: Token <key>` with knox's expiring, revocable tokens."""

from __future__ import annotations

import re
from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication
from knox.models import AuthToken
from knox.settings import knox_settings
from rest_framework.exceptions import AuthenticationFailed

KEY_SHAPE = re.compile(rf"[0-9a-f]{{{knox_settings.AUTH_TOKEN_CHARACTER_LENGTH}}}")


class ExpiringTokenAuthentication(TokenAuthentication):
    """Knox's check with two changes.

    A key that cannot be one is refused before any query: knox decodes it as UTF-8 and looks it
    up as is, so non-UTF-8 bytes or a NUL byte were a 500. And only the presented token's expiry
    is checked: knox also loads and prunes every other token of the user on every request (one
    more query each time); `tokens.issue` prunes them instead.
    """

    def authenticate_credentials(self, token: bytes) -> tuple[Any, Any]:
        if not KEY_SHAPE.fullmatch(token.decode("latin-1")):
            raise AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(token)  # type: ignore[no-any-return]

    def _cleanup_token(self, auth_token: AuthToken) -> bool:
        """True (skip it) when the token has expired; it is deleted then."""
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False


class ExpiringTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes the header (drf-spectacular has no knox extension)."""

    target_class = ExpiringTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return build_bearer_security_scheme_object(  # type: ignore[no-any-return]
            header_name="Authorization", token_prefix=knox_settings.AUTH_HEADER_PREFIX
        )
