"""The periodic tasks, declared once: `setup_event_lifecycle_tasks` loads this list into beat."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PeriodicSpec:
    name: str
    task: str
    every_seconds: int | None = None
    crontab: dict[str, str] | None = None
    description: str = ""
    # Earlier names of this task: `setup_event_lifecycle_tasks` renames such a row.
    formerly: tuple[str, ...] = ()


PERIODIC_TASKS: tuple[PeriodicSpec, ...] = (
    PeriodicSpec(
        name="Mark Ended Events as Completed",
        task="events.mark_ended_events_as_completed",
        every_seconds=5 * 60,
        description="The seed's sweep: ended CONFIRMED/ONGOING events become COMPLETED.",
    ),
    PeriodicSpec(
        name="Mark Started Events as Ongoing",
        task="events.mark_started_events_as_ongoing",
        every_seconds=60,
        description="Started CONFIRMED events become ONGOING.",
    ),
    PeriodicSpec(
        name="Archive Old Completed Events",
        task="events.archive_old_completed_events",
        crontab={"minute": "30", "hour": "3"},
        description="COMPLETED events older than ARCHIVE_AFTER_DAYS become ARCHIVED.",
    ),
    PeriodicSpec(
        name="Send Event Reminder Emails",
        task="events.send_event_reminder_emails",
        every_seconds=5 * 60,
        description="One reminder email per participant, REMINDER_LEAD_HOURS before the start.",
    ),
    PeriodicSpec(
        name="Relay Webhook Deliveries",
        task="webhooks.relay",
        every_seconds=60,
        description="Sends due webhook deliveries and retries: the safety net of the relay's "
        "wake-up after each commit.",
    ),
    PeriodicSpec(
        name="Apply Data Retention",
        task="events.apply_data_retention",
        crontab={"minute": "45", "hour": "3"},
        description="Participants' personal data of events ARCHIVED more than RETENTION_DAYS "
        "ago is deleted (counts and status history stay); off while RETENTION_DAYS is unset.",
    ),
    # Beat installs this entry under this name by itself (crontab 04:00) whenever results
    # expire; owning the same name keeps one clean-up task instead of two.
    PeriodicSpec(
        name="celery.backend_cleanup",
        task="celery.backend_cleanup",
        crontab={"minute": "0", "hour": "4"},
        description="Clean Up Old Task Results: deletes task results older than "
        "CELERY_RESULT_EXPIRES.",
        formerly=("Clean Up Old Task Results",),
    ),
)
