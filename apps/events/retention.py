"""Data retention (CONTRACT §8): RETENTION_DAYS after an event is ARCHIVED, its participants'
personal data goes; the event, its participant count and its status history stay.

Removed: the participations (who took part), the message deliveries and opt-outs (who was
emailed, when), and the bodies of the webhook deliveries (the Event JSON sent, kept until now
for retries); the webhook delivery rows stay as a log without their bodies.
Kept: the event, `retained_participants` (the count at removal), every EventStatusChange.
Each run writes a RetentionRun row (shown in the admin) and logs one line.

Set-based and safe twice at once: the due events are claimed with FOR UPDATE SKIP LOCKED and
marked (`personal_data_removed_at`) in the same transaction as the deletes, so a concurrent run
skips them while they are locked and no longer sees them as due once committed; a second run
finds nothing left. Eight statements whatever the number of events.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from apps.events import clock
from apps.events.models import Delivery, Event, MessageOptOut, Participation, RetentionRun
from apps.webhooks.models import Delivery as WebhookDelivery

logger = logging.getLogger(__name__)


def due_q(archived_before: datetime) -> Q:
    return Q(
        status=Event.EventStatus.ARCHIVED,
        archived_at__lt=archived_before,
        personal_data_removed_at__isnull=True,
    )


def apply(at: datetime | None = None) -> RetentionRun | None:
    """Remove the personal data of events archived more than RETENTION_DAYS ago; None when
    RETENTION_DAYS is unset (retention off)."""
    if settings.RETENTION_DAYS is None:
        logger.info("retention is off (RETENTION_DAYS unset)")
        return None
    at = at or clock.now()
    archived_before = at - timedelta(days=settings.RETENTION_DAYS)
    with transaction.atomic():
        ids = list(
            Event.objects.filter(due_q(archived_before))
            .order_by()
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)
        )
        participants = (
            Participation.objects.filter(event=OuterRef("pk"))
            .order_by()
            .values("event")
            .annotate(n=Count("*"))
            .values("n")
        )
        Event.objects.filter(id__in=ids).update(
            personal_data_removed_at=at,
            retained_participants=Coalesce(Subquery(participants), 0, output_field=IntegerField()),
        )
        participations, _ = Participation.objects.filter(event_id__in=ids).delete()
        deliveries, _ = Delivery.objects.filter(rule__event_id__in=ids).delete()
        MessageOptOut.objects.filter(event_id__in=ids).delete()
        bodies = (
            WebhookDelivery.objects.filter(change__event_id__in=ids)
            .exclude(payload="")
            .update(payload="")
        )
        run = RetentionRun.objects.create(
            ran_at=at,
            archived_before=archived_before,
            events=len(ids),
            participations=participations,
            deliveries=deliveries,
            webhook_bodies=bodies,
        )
    logger.info(
        "retention: %d events archived before %s, %d participations, %d message deliveries "
        "and %d webhook bodies removed",
        run.events,
        archived_before.isoformat(),
        participations,
        deliveries,
        bodies,
        extra={
            "events": run.events,
            "participations": participations,
            "deliveries": deliveries,
            "webhook_bodies": bodies,
        },
    )
    return run
