"""Demo data for `make dev`: a demo user and events in every status, some ending soon."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.events import lifecycle
from apps.events.models import Event, Participation

Status = Event.EventStatus
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"
# Someone else's events, so the demo user sees the Join and Leave buttons on the pages too.
DEMO_HOST = "townhall"


class Command(BaseCommand):
    help = "Create the demo user and a few events in every status (replaces earlier demo events)."

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        with transaction.atomic():
            user, created = User.objects.get_or_create(
                username=DEMO_USERNAME,
                defaults={"email": "demo@eventide.local", "is_staff": True, "is_superuser": True},
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            Event.objects.filter(organizer=user).delete()
            at = lifecycle.now()
            minute, hour, day = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
            specs = [
                ("Ends a minute from now", -hour, 1 * minute, Status.ONGOING),
                ("Starts in a minute, ends in three", 1 * minute, 3 * minute, Status.CONFIRMED),
                ("Product launch tomorrow", day, day + 2 * hour, Status.CONFIRMED),
                ("Workshop next week", 7 * day, 7 * day + 3 * hour, Status.CONFIRMED),
                ("Conference, ongoing all week", -day, 6 * day, Status.ONGOING),
                ("Draft: summer party", 30 * day, 30 * day + 5 * hour, Status.DRAFT),
                ("Cancelled meetup", 2 * day, 2 * day + hour, Status.CANCELLED),
                ("Last week's hackathon", -8 * day, -7 * day, Status.COMPLETED),
                ("Ended while nobody was looking", -3 * hour, -2 * hour, Status.CONFIRMED),
                ("Spring fair (long ago)", -200 * day, -199 * day, Status.ARCHIVED),
            ]
            events = Event.objects.bulk_create(
                Event(
                    title=title,
                    description=f"A demo event: {title.lower()}.",
                    venue="Town Hall, London",
                    organizer=user,
                    start_date=at + start,
                    end_date=at + end,
                    status=status,
                    completed_at=at + end
                    if status in (Status.COMPLETED, Status.ARCHIVED)
                    else None,
                    archived_at=at if status == Status.ARCHIVED else None,
                )
                for title, start, end, status in specs
            )
            _load_hosted_events(user, at)
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(events)} demo events for user '{DEMO_USERNAME}' "
                f"(password '{DEMO_PASSWORD}')."
            )
        )


def _load_hosted_events(demo_user: Any, at: datetime) -> None:
    """Events organized by DEMO_HOST, one of them already joined by the demo user."""
    host, created = get_user_model().objects.get_or_create(
        username=DEMO_HOST, defaults={"email": "townhall@eventide.local"}
    )
    if created:
        host.set_unusable_password()
        host.save()
    Event.objects.filter(organizer=host).delete()
    minute, hour = timedelta(minutes=1), timedelta(hours=1)
    joined, _ = Event.objects.bulk_create(
        [
            Event(
                title="Lunchtime choir (you joined)",
                description="Starts in two minutes and ends two minutes later: watch it go live.",
                venue="St Martin's, Trafalgar Square",
                organizer=host,
                start_date=at + 2 * minute,
                end_date=at + 4 * minute,
                status=Status.CONFIRMED,
                capacity=30,
            ),
            Event(
                title="Book club: open to all",
                description="Join from the event page.",
                venue="Library, room 2",
                organizer=host,
                start_date=at - hour,
                end_date=at + 2 * hour,
                status=Status.ONGOING,
            ),
        ]
    )
    Participation.objects.create(event=joined, user=demo_user)
