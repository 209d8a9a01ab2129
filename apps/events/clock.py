"""The one clock of Eventide: every module that asks "what time is it" asks here.

Tests move it with time-machine, which patches `django.utils.timezone.now` underneath.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()
