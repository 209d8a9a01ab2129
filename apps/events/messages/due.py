"""When a message rule is due: the offset from its anchor, then the local time in the event's zone.

Pure functions of the rule's settings and the event's dates; `configuring` writes their result to
the rule and its pending deliveries. Instants stay in UTC; only `local_time` is read in the zone.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apps.events import zones
from apps.events.models import Event, MessageRule

Kind = MessageRule.Kind

# ISO 8601 durations without years or months (their length depends on the calendar).
_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
MAX_OFFSET = timedelta(days=366)
_LOCAL_TIME = re.compile(r"^(?P<hour>[01]\d|2[0-3]):(?P<minute>[0-5]\d)(?::00)?$")


def event_zone(event: Event) -> ZoneInfo:
    """The zone an event's local times are read in."""
    return zones.zone(event.timezone)


def parse_offset(text: str) -> timedelta | None:
    """`PT2H`, `P1D`, `P1DT12H30M`, `P2W` → timedelta; None when it is not such a duration."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None or text in ("P", "PT") or text.endswith("T"):
        return None
    parts = {name: int(value) for name, value in match.groupdict().items() if value}
    offset = timedelta(**parts)
    return offset if offset <= MAX_OFFSET else None


def format_offset(offset: timedelta) -> str:
    """The shortest ISO 8601 form: `PT2H`, `P1D`, `P1DT30M`, `PT0S`."""
    seconds = int(offset.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    clock = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    text = "P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "")
    return text if text != "P" else "PT0S"


def parse_local_time(text: str) -> time | None:
    """`"09:00"` → time(9, 0); None when it is not HH:MM."""
    match = _LOCAL_TIME.match(text) if isinstance(text, str) else None
    return time(int(match["hour"]), int(match["minute"])) if match else None


def at_local_time(moment: datetime, local_time: time, zone: ZoneInfo) -> datetime:
    """The instant on `moment`'s local day (in `zone`) when the clocks there show `local_time`.

    DST-safe: an ambiguous time (the autumn hour that happens twice) is its first occurrence; a
    time the spring change skips is the instant the clocks jump to (01:30 in a 01:00→02:00 gap
    is 02:00), so the message still goes out that day, never an hour early.
    """
    day = moment.astimezone(zone).date()
    wanted = datetime.combine(day, local_time, tzinfo=zone)  # fold=0: the first occurrence
    instant = wanted.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wanted.replace(tzinfo=None):
        return instant
    # In the gap: the two readings of the missing time lie either side of the jump.
    probe = min(instant, wanted.replace(fold=1).astimezone(UTC))
    before = probe.astimezone(zone).utcoffset()
    while probe.astimezone(zone).utcoffset() == before:
        probe += timedelta(minutes=1)
    return probe


def due_at(
    kind: str,
    offset: timedelta,
    local_time: time | None,
    *,
    start: datetime,
    end: datetime | None,
    zone: ZoneInfo,
) -> datetime:
    """When a rule of `kind` is due for an event with these dates.

    A reminder is `offset` before the start, a follow-up `offset` after the end (the start when
    the event has no end); with `local_time`, the day the offset lands on at that local time.
    """
    # In UTC first: arithmetic on a datetime in a zone is wall-clock time (24 h before a spring
    # change would be 23 real hours).
    if kind == Kind.REMINDER:
        moment = start.astimezone(UTC) - offset
    else:
        moment = (end or start).astimezone(UTC) + offset
    return at_local_time(moment, local_time, zone) if local_time is not None else moment


def due_at_for(rule: MessageRule, event: Event) -> datetime:
    return due_at(
        rule.kind,
        rule.offset,
        rule.local_time,
        start=event.start_date,
        end=event.end_date,
        zone=event_zone(event),
    )
