"""Demo data for `make dev`: a demo user and events in every status, some ending soon."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Q

from apps.events import clock
from apps.events.messages import configuring as messages
from apps.events.models import Event, Participation

Status = Event.EventStatus
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"
# Someone else's events, so the demo user sees the Join and Leave buttons on the pages too.
DEMO_HOST = "townhall"


MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
# (title, start and end relative to now, status) of the demo user's own events.
DEMO_SPECS: list[tuple[str, timedelta, timedelta, str]] = [
    ("Ends a minute from now", -HOUR, 1 * MINUTE, Status.ONGOING),
    ("Starts in a minute, ends in three", 1 * MINUTE, 3 * MINUTE, Status.CONFIRMED),
    ("Product launch tomorrow", DAY, DAY + 2 * HOUR, Status.CONFIRMED),
    ("Workshop next week", 7 * DAY, 7 * DAY + 3 * HOUR, Status.CONFIRMED),
    ("Conference, ongoing all week", -DAY, 6 * DAY, Status.ONGOING),
    ("Draft: summer party", 30 * DAY, 30 * DAY + 5 * HOUR, Status.DRAFT),
    ("Cancelled meetup", 2 * DAY, 2 * DAY + HOUR, Status.CANCELLED),
    ("Last week's hackathon", -8 * DAY, -7 * DAY, Status.COMPLETED),
    ("Ended while nobody was looking", -3 * HOUR, -2 * HOUR, Status.CONFIRMED),
    ("Spring fair (long ago)", -200 * DAY, -199 * DAY, Status.ARCHIVED),
]
CHOIR = "Lunchtime choir"
BOOK_CLUB = "Book club: open to all"
CHOIR_TEXT = (
    "The demo user has joined this one. It starts two minutes after the demo data was loaded "
    "and ends two minutes later: watch its badge go live."
)
BOOK_CLUB_TEXT = "Join from the event page."


def _demo_description(title: str) -> str:
    return f"A demo event: {title.lower()}."


def _delete_demo_events(organizer: Any, specs: list[tuple[str, Any, Any, Any]]) -> int:
    """Delete the rows this command made earlier: exactly its titles with its descriptions, by
    its organizer. Anything else (an event the user made as `demo`) is never touched."""
    mine = Q()
    for title, *_ in specs:
        mine |= Q(title=title, description=_demo_description(title))
    return Event.objects.filter(mine, organizer=organizer).delete()[1].get(Event._meta.label, 0)


class Command(BaseCommand):
    help = (
        "Create the demo user and a few events in every status. Run again, it replaces only its "
        "own demo events (fresh dates); events anyone created, the demo user included, stay."
    )

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
            replaced = _delete_demo_events(user, DEMO_SPECS)
            at = clock.now()
            events = Event.objects.bulk_create(
                Event(
                    title=title,
                    description=_demo_description(title),
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
                for title, start, end, status in DEMO_SPECS
            )
            replaced += _load_hosted_events(user, at)
            messages.add_default_rules(events)
        if replaced:
            self.stdout.write(f"Replaced {replaced} earlier demo event(s); no other event changed.")
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(events)} demo events for user '{DEMO_USERNAME}' "
                f"(password '{DEMO_PASSWORD}')."
            )
        )


def _load_hosted_events(demo_user: Any, at: datetime) -> int:
    """Events organized by DEMO_HOST, one of them already joined by the demo user; returns how
    many earlier demo rows of DEMO_HOST it replaced."""
    host, created = get_user_model().objects.get_or_create(
        username=DEMO_HOST, defaults={"email": "townhall@eventide.local"}
    )
    if created:
        host.set_unusable_password()
        host.save()
    ours = Q(title=CHOIR, description=CHOIR_TEXT) | Q(title=BOOK_CLUB, description=BOOK_CLUB_TEXT)
    replaced = Event.objects.filter(ours, organizer=host).delete()[1].get(Event._meta.label, 0)
    joined, other = Event.objects.bulk_create(
        [
            Event(
                title=CHOIR,
                description=CHOIR_TEXT,
                venue="St Martin's, Trafalgar Square",
                organizer=host,
                start_date=at + 2 * MINUTE,
                end_date=at + 4 * MINUTE,
                status=Status.CONFIRMED,
                capacity=30,
            ),
            Event(
                title=BOOK_CLUB,
                description=BOOK_CLUB_TEXT,
                venue="Library, room 2",
                organizer=host,
                start_date=at - HOUR,
                end_date=at + 2 * HOUR,
                status=Status.ONGOING,
            ),
        ]
    )
    messages.add_default_rules([joined, other])
    Participation.objects.create(event=joined, user=demo_user)
    return replaced
