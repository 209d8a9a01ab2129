"""The database session store, refusing cookie values that cannot be session keys.

Django's own check is only "at least 8 characters", so a `sessionid` cookie holding a NUL byte
reached PostgreSQL, which refused it with an error: a 500 on any page that looks at the user.
"""

from __future__ import annotations

import string

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore

KEY_CHARACTERS = frozenset(string.ascii_lowercase + string.digits)  # what Django generates


class SessionStore(DatabaseSessionStore):
    def _validate_session_key(self, key: str | None) -> bool:
        return bool(key and len(key) >= 8 and set(key) <= KEY_CHARACTERS)
