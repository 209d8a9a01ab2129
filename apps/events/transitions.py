"""The edges of the state machine (CONTRACT §2): who may move an event from which status to which.

`lifecycle` reads `MANUAL` to check a person's action and `AUTOMATIC` to build the sweeps'
queries, so these tables are the state machine itself, not a description of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from apps.events.models import Event

Status = Event.EventStatus


@dataclass(frozen=True)
class Transition:
    """One status change that happened (or is about to be announced)."""

    event_id: int
    from_status: str
    to_status: str
    at: datetime
    # The id of its EventStatusChange row: the order of changes, and what a stream resumes after.
    change_id: int | None = None
    # When it was due (a sweep's start_date or end_date), for the lag metric; None when manual.
    due: datetime | None = None


# A person's actions, keyed by name: (allowed from, to).
MANUAL: dict[str, tuple[tuple[str, ...], str]] = {
    "confirm": ((Status.DRAFT,), Status.CONFIRMED),
    "complete": ((Status.CONFIRMED, Status.ONGOING), Status.COMPLETED),
    "cancel": ((Status.DRAFT, Status.CONFIRMED, Status.ONGOING), Status.CANCELLED),
}

# What the sweeps do by themselves, keyed by target: the statuses they move from.
AUTOMATIC: dict[str, tuple[str, ...]] = {
    Status.ONGOING: (Status.CONFIRMED,),
    Status.COMPLETED: tuple(Event.ACTIVE_STATUSES),
    Status.ARCHIVED: (Status.COMPLETED,),
}

ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {(src, dst) for sources, dst in MANUAL.values() for src in sources}
    | {(src, dst) for dst, sources in AUTOMATIC.items() for src in sources}
)


def swept_from(to_status: str) -> tuple[str, ...]:
    """The statuses a sweep moves to `to_status` from (KeyError: no sweep goes there)."""
    return AUTOMATIC[to_status]
