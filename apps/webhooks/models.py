"""Webhook endpoints and the outbox of their deliveries (CONTRACT §9).

A `Delivery` row is written in the transaction of the transition it announces (`outbox`), so a
process that dies after the commit loses nothing: the relay (`relay`) finds the row and sends it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.events.models import EventStatusChange

# What an endpoint may subscribe to: one type per status a transition can reach, or "*".
EVENT_TYPES = (
    "event.confirmed",
    "event.ongoing",
    "event.completed",
    "event.cancelled",
    "event.archived",
)
ALL_TYPES = "*"


def event_type(to_status: str) -> str:
    """The webhook type of a transition to `to_status`: `COMPLETED` → `event.completed`."""
    return f"event.{to_status.lower()}"


class Endpoint(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=2000)
    event_types = models.JSONField(default=list)
    secret = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    # Why the relay turned the endpoint off (a 410), empty when the owner did or nobody did.
    disabled_reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ("id",)
        indexes = [models.Index(fields=["owner", "id"], name="webhook_endpoint_owner_idx")]

    def __str__(self) -> str:
        return f"{self.url} ({self.owner_id})"

    def wants(self, type_: str) -> bool:
        return self.is_active and (ALL_TYPES in self.event_types or type_ in self.event_types)


class Delivery(models.Model):
    """One transition to send to one endpoint, with the outcome of its latest attempt."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    change = models.ForeignKey(
        EventStatusChange, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    type = models.CharField(max_length=32)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")
    # Pending: when the relay may (re)try it. A claim moves it a lease ahead, so a relay that
    # dies mid-send leaves a row that is retried once the lease is over, never lost.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    # The body of the first attempt, kept so that every retry signs the same bytes.
    payload = models.TextField(blank=True, default="")

    class Meta:
        ordering = ("id",)
        constraints = [
            models.UniqueConstraint(fields=["change", "endpoint"], name="webhook_delivery_once"),
        ]
        indexes = [
            # The relay's claim: pending rows by due time.
            models.Index(
                fields=["next_attempt_at", "id"],
                name="webhook_delivery_due_idx",
                condition=Q(state="pending"),
            ),
            models.Index(fields=["endpoint", "id"], name="webhook_delivery_endpoint_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.change_id} → {self.endpoint_id} ({self.state})"

    @property
    def webhook_id(self) -> str:
        """The Standard Webhooks `webhook-id`: the same for every attempt of this delivery."""
        return f"msg_{self.pk}"
