"""The relay's Celery task, on a queue of its own (`webhooks`): a slow receiver never delays a
transition's sweep or wake-up."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from apps.events.tasks import RETRY_OPTIONS, run_logged
from apps.webhooks import relay


@shared_task(bind=True, name=relay.RELAY_TASK, **RETRY_OPTIONS)
def relay_webhooks(self: Any) -> int:
    """Send the due webhook deliveries; returns how many were attempted."""
    return run_logged(self, relay.relay_due)
