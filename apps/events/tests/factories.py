from __future__ import annotations

from datetime import timedelta

import factory
from django.contrib.auth.models import User
from django.utils import timezone

from apps.events.messages import configuring
from apps.events.models import Event, Participation


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class EventFactory(factory.django.DjangoModelFactory[Event]):
    class Meta:
        model = Event
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Event {n}")
    organizer = factory.SubFactory(UserFactory)
    start_date = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
    end_date = factory.LazyAttribute(lambda e: e.start_date + timedelta(hours=2))
    status = Event.EventStatus.CONFIRMED

    @factory.post_generation
    def default_rule(obj: Event, create: bool, extracted: object, **kwargs: object) -> None:
        """Every event starts with the default reminder rule, as `editing.create_event` makes
        it; `EventFactory.create(default_rule=False)` makes one without."""
        if create and extracted is not False:
            configuring.add_default_rule(obj)


class ParticipationFactory(factory.django.DjangoModelFactory[Participation]):
    class Meta:
        model = Participation

    event = factory.SubFactory(EventFactory)
    user = factory.SubFactory(UserFactory)
