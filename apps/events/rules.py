"""The rules an event's details obey, whichever edge writes them (CONTRACT §2, §4).

Plain checks on values: `editing` and `participation` call them under the event's row lock, so
the API, the pages and the admin refuse the same things with the same words. A refusal is one
type, `errors.Refused`, which each edge maps once.
"""

from __future__ import annotations

from datetime import datetime

from apps.events.errors import InvalidValue, ParticipationRefused, Refused
from apps.events.models import Event

Status = Event.EventStatus

# Events happen in this world: dates outside it are typos, and far-past London times carry a
# local-mean-time offset with seconds that is not valid ISO 8601 output.
EARLIEST_YEAR = 1970
LATEST_YEAR = 2999


def check_dates(start: datetime | None, end: datetime | None) -> None:
    """Both dates within the years events happen in, and the end after the start."""
    for field, value in (("start_date", start), ("end_date", end)):
        if value is not None and not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
            raise InvalidValue(
                f"Must be between the years {EARLIEST_YEAR} and {LATEST_YEAR}.", field=field
            )
    if start is not None and end is not None and end <= start:
        raise InvalidValue("The end must be after the start.", field="end_date")


def check_capacity(capacity: int | None, taken: int) -> None:
    """Capacity is never below the number of people who have joined."""
    if capacity is not None and capacity < taken:
        raise InvalidValue(f"{taken} people have already joined.", field="capacity")


def check_seat_left(capacity: int | None, taken: int) -> None:
    """Someone more may join only while the event is not full."""
    if capacity is not None and taken >= capacity:
        raise ParticipationRefused("Event is full.")


def check_start(event: Event, start: datetime, at: datetime) -> None:
    """An ONGOING event has started: its start cannot move into the future."""
    if event.status == Status.ONGOING and start > at:
        raise Refused(
            "The event is ONGOING: its start cannot move into the future.", field="start_date"
        )
