"""Event time zones (CONTRACT §2 "Time zones"): which names are zones, how local times are read.

Instants are stored in UTC; an event's `timezone` only says how its times are read when they
come without an offset and how they are shown. `zoneinfo` never refuses a local time, so a time
in the spring gap is found by round-tripping it (local → UTC → local) and refused here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from apps.accounts.models import Profile
from apps.accounts.profiles import is_known_timezone, known_timezones
from apps.events.errors import InvalidValue

DATETIME_FIELDS = ("start_date", "end_date")


def default_timezone() -> str:
    return str(settings.TIME_ZONE)


@cache
def choices() -> list[tuple[str, str]]:
    """Every known zone, for a form's select."""
    return [(name, name) for name in sorted(known_timezones())]


def check_timezone(name: object, field: str = "timezone") -> ZoneInfo:
    """The zone called `name`; InvalidValue naming `field` when zoneinfo does not know it."""
    if not isinstance(name, str) or not is_known_timezone(name):
        raise InvalidValue(f"Unknown time zone {str(name)[:64]!r}: use an IANA name.", field=field)
    return ZoneInfo(name)


def viewer_timezone(user: Any) -> str:
    """The zone a viewer reads times in: their own (`User.timezone`) when signed in, else
    TIME_ZONE. Reads the profile without creating it: viewing writes nothing."""
    if user is not None and user.is_authenticated:
        name = Profile.objects.filter(user_id=user.pk).values_list("timezone", flat=True).first()
        if name and is_known_timezone(name):
            return name
    return default_timezone()


def zone(name: str | None) -> ZoneInfo:
    """A stored zone name (else TIME_ZONE) as a ZoneInfo."""
    return ZoneInfo(name or default_timezone())


def read_local(value: datetime, tz: ZoneInfo, field: str) -> datetime:
    """The instant, in UTC, that `value` names: itself when it has an offset, else its local
    time in `tz`.

    An ambiguous time (the autumn overlap) is its first occurrence (fold=0); a time that does not
    exist (the spring gap) is refused, naming `field`. The result is in UTC because an aware time
    in an overlap never compares equal to one in another zone (PEP 495), not even to itself.
    """
    try:
        if value.tzinfo is not None and value.utcoffset() is not None:
            return value.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidValue("Out of range.", field=field) from exc
    local = value.replace(tzinfo=tz, fold=0)
    try:
        round_trip = local.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    except OverflowError as exc:
        raise InvalidValue("Out of range.", field=field) from exc
    if round_trip != value.replace(fold=0):
        raise InvalidValue(
            f"{value:%Y-%m-%d %H:%M:%S} couldn\u2019t be interpreted in time zone {tz.key}; "
            "it may be ambiguous or it may not exist.",
            field=field,
        )
    return local.astimezone(UTC)


def read_fields(fields: Mapping[str, Any], tz: ZoneInfo) -> dict[str, Any]:
    """`fields` with their naive datetimes read in `tz` (the zone sent with them, else the
    event's): what an edge hands to `editing`."""
    read = dict(fields)
    for name in DATETIME_FIELDS:
        if isinstance(read.get(name), datetime):
            read[name] = read_local(read[name], tz, name)
    return read


def local(value: datetime, name: str | None) -> datetime:
    """An instant as the local time of the zone called `name` (else TIME_ZONE)."""
    return value.astimezone(zone(name))


def local_naive(value: datetime | None, name: str | None) -> datetime | None:
    """What a form shows for an instant: its local time in `name`, without an offset."""
    return None if value is None else local(value, name).replace(tzinfo=None)
