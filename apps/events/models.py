"""Events, who takes part, and the audit trail of every status change (CONTRACT §2)."""

from __future__ import annotations

from typing import Any, TypeAlias

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import models
from django.db.models import F, Q

from apps.events.zones import default_timezone

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
    timezone = models.CharField(
        max_length=64,
        default=default_timezone,
        help_text="IANA name: naive times of the event are read, and its times shown, in it.",
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
    # How often start_date/end_date changed (editing bumps it): with the status changes it makes
    # the calendar SEQUENCE (calendars.sequence_of), which must grow on every date change.
    dates_revision = models.PositiveIntegerField(default=0, editable=False)
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


class MessageRule(models.Model):
    """What an event sends and when (CONTRACT §3 "Lifecycle messages"): one row per message.

    `due_at` is derived (`messages.due.due_at`) from the event's dates and zone, the offset and
    the local time; it is written with the rule and again whenever any of those change, and every
    pending delivery of the rule carries the same value. `cancellation` rules are the system's:
    one per cancelled event, written by the cancel transition, never by an organiser.
    """

    class Kind(models.TextChoices):
        REMINDER = "reminder", "Reminder (before the start)"
        FOLLOW_UP = "follow_up", "Follow-up (after the end)"
        CANCELLATION = "cancellation", "Cancellation notice"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="message_rules")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    offset = models.DurationField(help_text="Before the start (reminder), after the end.")
    local_time = models.TimeField(null=True, blank=True, help_text="In the event's time zone.")
    subject = models.CharField(max_length=200, blank=True, default="")
    body = models.TextField(blank=True, default="")
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("event", "due_at", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["event"], condition=Q(kind="cancellation"), name="one_cancellation_rule"
            ),
        ]
        indexes = [
            # The lazy row creation and the next wake-up: rules by due moment.
            models.Index(fields=["due_at"], name="messagerule_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of event {self.event_id} due {self.due_at:%Y-%m-%d %H:%M}"


class Delivery(models.Model):
    """One rule's email to one participant, sent exactly once (see `reminders.sending`)."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        MISSED = "missed", "Missed"
        SKIPPED = "skipped", "Skipped"
        OPTED_OUT = "opted_out", "Opted out"

    # Indexed by the unique (rule, user) constraint below.
    rule = models.ForeignKey(
        MessageRule, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    due_at = models.DateTimeField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "user"], name="delivery_once"),
        ]
        indexes = [
            # The sender's claim and the next wake-up: pending rows by due moment.
            models.Index(
                fields=["due_at", "id"],
                name="delivery_pending_due_idx",
                condition=Q(state="pending"),
            ),
            # A user's opt-out and deletion find their rows without a scan.
            models.Index(fields=["user", "state"], name="delivery_user_idx"),
        ]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.rule_id} to {self.user_id} ({self.state})"


class MessageOptOut(models.Model):
    """A person who muted one event's messages (the one-click unsubscribe link)."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "user"], name="optout_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} muted {self.event_id}"


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
    deliveries = models.PositiveIntegerField(help_text="Message deliveries removed.")
    webhook_bodies = models.PositiveIntegerField(
        default=0, help_text="Webhook delivery bodies emptied."
    )

    class Meta:
        ordering = ("-ran_at", "-id")

    def __str__(self) -> str:
        return f"retention at {self.ran_at:%Y-%m-%d %H:%M}: {self.events} events, {self.rows} rows"

    @property
    def rows(self) -> int:
        return self.participations + self.deliveries + self.webhook_bodies
