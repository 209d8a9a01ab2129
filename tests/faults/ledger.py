"""What the fault tests check afterwards: every transition exactly once, nothing lost."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db.models import Count, Max

from apps.events.models import Event, EventStatusChange

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ledger:
    completed: int
    audit_rows: int
    events_with_audit: int
    most_rows_for_one_event: int

    @property
    def duplicates(self) -> int:
        return self.audit_rows - self.events_with_audit


def ledger(to_status: str = Event.EventStatus.COMPLETED) -> Ledger:
    rows = EventStatusChange.objects.filter(to_status=to_status)
    per_event = rows.values("event_id").annotate(n=Count("id"))
    return Ledger(
        completed=Event.objects.filter(status=to_status).count(),
        audit_rows=rows.count(),
        events_with_audit=per_event.count(),
        most_rows_for_one_event=per_event.aggregate(m=Max("n"))["m"] or 0,
    )


def report(name: str, **figures: object) -> None:
    """One log line per test with its figures, collected in the closing note (`pytest -s`)."""
    logger.info(f"FAULT {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))
