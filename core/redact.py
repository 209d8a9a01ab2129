"""Credentials never leave the process in clear: URL passwords are masked in logs and in Celery's
`inspect conf` (issue 14).

Masked by value, whatever the setting is called: any `scheme://user:password@` (redis, rediss,
sentinel, postgres, smtp, a CACHE_URL...), and `password=` in a query string. Plain settings
need no care: celery already hides names with KEY, SECRET, PASS, TOKEN or DATABASE in them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

MASK = "********"

_URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^:@/\s?#;]*:)[^@\s/?#;]+(?=@)", re.I)
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&](?:password|passwd|pass)=)[^&\s#;]+", re.I)


def mask_text(text: str) -> str:
    """`text` with the password of every URL in it replaced by ********."""
    text = _URL_PASSWORD.sub(rf"\g<head>{MASK}", text)
    return _QUERY_PASSWORD.sub(rf"\g<head>{MASK}", text)


def mask(value: Any) -> Any:
    """`value` with every string in it masked, through dicts, lists, tuples and sets."""
    if isinstance(value, str):
        # str() too: a lazy object (e.g. a reverse_lazy setting) passes isinstance as a str.
        return mask_text(str(value))
    if isinstance(value, Mapping):
        return {key: mask(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return type(value)(mask(item) for item in value)
    return value


class RedactCredentials(logging.Filter):
    """A handler filter (LOGGING): masks the message, its arguments, extra fields and tracebacks,
    for the text and the JSON formatter alike."""

    _STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        for name, value in list(vars(record).items()):
            if name not in self._STANDARD and isinstance(value, str | Mapping | list | tuple):
                setattr(record, name, mask(value))
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            if mask_text(text) != text:
                # Formatted once, masked; both formatters print exc_text when exc_info is gone.
                record.exc_text, record.exc_info = mask_text(text), None
        elif record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        return True
