"""Events, who takes part, and the audit trail of every status change (CONTRACT §2)."""

from __future__ import annotations

from typing import Any, TypeAlias

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import models
from django.db.models import F, Q

# Who asks or acts: a signed-in user, an anonymous visitor, or nobody (the system itself).
Actor: TypeAlias = User | AnonymousUser | None


class Event(models.Model):
    class EventStatus(models.TextChoices):
        DRAFT = "DRAFT", "Draft"
        CONFIRMED = "CONFIRMED", "Confirmed"
        ONGOING = "ONGOING", "Ongoing"
        COMPLETED = "COMPLETED", "Completed"
        CANCELLED = "CANCELLED", "Cancelled"
        ARCHIVED = "ARCHIVED", "Archived"

    # Statuses a running event can be in; the sweeps and the discovery list look only at these.
    ACTIVE_STATUSES = (EventStatus.CONFIRMED, EventStatus.ONGOING)

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    venue = models.CharField(max_length=200, blank=True, default="")
    organizer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="organized_events"
    )
    start_date = models.DateTimeField()
    end_date = models.DateTimeField(null=True, blank=True)
    capacity = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=EventStatus.choices, default=EventStatus.DRAFT, db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    # Data retention (apps/events/retention.py): when the participants' personal data was
    # deleted, and how many participants there were then.
    personal_data_removed_at = models.DateTimeField(null=True, blank=True)
    retained_participants = models.PositiveIntegerField(null=True, blank=True)

    participants: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Participation", related_name="joined_events"
    )

    class Meta:
        ordering = ("start_date", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gt=F("start_date")),
                name="event_end_after_start",
            ),
            models.CheckConstraint(
                condition=Q(capacity__isnull=True) | Q(capacity__gte=1),
                name="event_capacity_positive",
            ),
        ]
        indexes = [
            # complete_ended(): `status IN (CONFIRMED, ONGOING) AND end_date < now`.
            models.Index(
                fields=["end_date"],
                name="event_active_end_idx",
                condition=Q(status__in=["CONFIRMED", "ONGOING"]),
            ),
            # start_started(): `status = CONFIRMED AND start_date <= now`.
            models.Index(
                fields=["start_date"],
                name="event_confirmed_start_idx",
                condition=Q(status="CONFIRMED"),
            ),
            # archive_completed(): `status = COMPLETED AND end_date < cutoff`.
            models.Index(
                fields=["end_date"],
                name="event_completed_end_idx",
                condition=Q(status="COMPLETED"),
            ),
            # Discovery list: active events ordered by (start_date, id), cursor-paginated.
            models.Index(
                fields=["start_date", "id"],
                name="event_discovery_idx",
                condition=Q(status__in=["CONFIRMED", "ONGOING"]),
            ),
            models.Index(fields=["organizer", "start_date", "id"], name="event_organizer_idx"),
            # retention.apply(): archived events whose personal data is still there.
            models.Index(
                fields=["archived_at"],
                name="event_retention_due_idx",
                condition=Q(status="ARCHIVED", personal_data_removed_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.status})"


class Participation(models.Model):
    # Both lookups are served by the two composite indexes below.
    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="participations", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="participations",
        db_index=False,
    )
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "user"], name="participation_once"),
        ]
        indexes = [models.Index(fields=["user", "event"], name="participation_user_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.event_id}"


class EventStatusChange(models.Model):
    """One row per transition, whoever made it: the audit trail."""

    class Source(models.TextChoices):
        API = "api", "API"
        ADMIN = "admin", "Admin"
        TASK = "task", "Task"
        WEB = "web", "Web page"

    # Indexed by statuschange_event_idx below; a second single-column index would only slow sweeps.
    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="status_changes", db_index=False
    )
    from_status = models.CharField(max_length=16, choices=Event.EventStatus.choices)
    to_status = models.CharField(max_length=16, choices=Event.EventStatus.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    source = models.CharField(max_length=8, choices=Source.choices)

    class Meta:
        ordering = ("at", "id")
        indexes = [
            models.Index(fields=["event", "at", "id"], name="statuschange_event_idx"),
            # Sweeps write actor NULL: a partial index costs them nothing, yet deleting a user
            # (SET NULL on their changes) still finds their rows without a scan.
            models.Index(
                fields=["actor"], name="statuschange_actor_idx", condition=Q(actor__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id}: {self.from_status} → {self.to_status} at {self.at:%Y-%m-%d %H:%M}"


class Reminder(models.Model):
    """The one reminder email of a participant for an event (CONTRACT §3).

    Rows are created by the reminder sweep when the event enters its reminder window; `sent_at`
    is written in the same transaction that hands the email to the backend (see `reminders`).
    """

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="reminders")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "user"], name="reminder_once"),
        ]
        indexes = [
            # The sender's claim: unsent rows, in id order.
            models.Index(
                fields=["id"], name="reminder_pending_idx", condition=Q(sent_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        state = f"sent {self.sent_at:%Y-%m-%d %H:%M}" if self.sent_at else "pending"
        return f"reminder of {self.user_id} for {self.event_id} ({state})"


class SchedulerHeartbeat(models.Model):
    """When beat last ticked (core/heartbeat.py): one row, written by beat's own process."""

    name = models.CharField(max_length=32, primary_key=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} ticked at {self.at:%Y-%m-%d %H:%M:%S}"


class RetentionRun(models.Model):
    """One run of "Apply Data Retention": when, up to which archive date, what it removed."""

    ran_at = models.DateTimeField()
    archived_before = models.DateTimeField()
    events = models.PositiveIntegerField()
    participations = models.PositiveIntegerField()
    reminders = models.PositiveIntegerField()

    class Meta:
        ordering = ("-ran_at", "-id")

    def __str__(self) -> str:
        return f"retention at {self.ran_at:%Y-%m-%d %H:%M}: {self.events} events, {self.rows} rows"

    @property
    def rows(self) -> int:
        return self.participations + self.reminders
