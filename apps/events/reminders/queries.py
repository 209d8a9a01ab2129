"""Which deliveries are due: the queries, and the statements that settle or create rows.

Deliveries are written when someone joins, a rule is added or an event is cancelled
(`messages.configuring`); `create_due` is the safety net that inserts any still missing for a
due rule (participations written around the domain), in one INSERT ... SELECT ... ON CONFLICT.
A pending delivery that can no longer be sent on time is settled, never sent late:
`settle_due` marks reminders whose event started and follow-ups more than
MESSAGE_MISSED_AFTER_HOURS late `missed`, and those of muted people `opted_out`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Case, CharField, Exists, Min, OuterRef, Q, QuerySet, Value, When

from apps.events import clock
from apps.events.messages import rows
from apps.events.models import Delivery, Event, MessageOptOut, MessageRule, Participation

Status = Event.EventStatus
Kind = MessageRule.Kind
State = Delivery.State


def lead_time() -> timedelta:
    return timedelta(hours=settings.REMINDER_LEAD_HOURS)


def missed_after() -> timedelta:
    return timedelta(hours=settings.MESSAGE_MISSED_AFTER_HOURS)


def _sendable(at: datetime) -> Q:
    """On Delivery: its kind may go out at `at` given its event's status and dates."""
    return (
        Q(rule__kind=Kind.REMINDER, rule__event__status=Status.CONFIRMED)
        & Q(rule__event__start_date__gt=at)
        | Q(
            rule__kind=Kind.FOLLOW_UP,
            rule__event__status__in=[Status.COMPLETED, Status.ARCHIVED],
            due_at__gte=at - missed_after(),
        )
        | Q(rule__kind=Kind.CANCELLATION, rule__event__status=Status.CANCELLED)
    )


def _muted() -> Q:
    """On Delivery: its person turned all messages off, or this event's."""
    # Through the rule inside the subquery: an UPDATE's SET may not join the outer row's rule.
    opted_out = MessageOptOut.objects.filter(
        event__message_rules=OuterRef("rule_id"), user_id=OuterRef("user_id")
    )
    all_off = get_user_model().objects.filter(pk=OuterRef("user_id"), profile__email_messages=False)
    return Q(Exists(all_off)) | Q(Exists(opted_out))


def pending(at: datetime) -> QuerySet[Delivery]:
    """Unsent deliveries due at `at` that may go out: sendable, person still in and not muted."""
    still_joined = Exists(
        Participation.objects.filter(
            event_id=OuterRef("rule__event_id"), user_id=OuterRef("user_id")
        )
    )
    return (
        Delivery.objects.filter(still_joined, _sendable(at), state=State.PENDING, due_at__lte=at)
        .exclude(user__email="")
        .exclude(_muted())
    )


def _due_rules(at: datetime) -> QuerySet[MessageRule]:
    return MessageRule.objects.filter(rows.creatable(at), due_at__lte=at).exclude(
        kind=Kind.FOLLOW_UP, due_at__lt=at - missed_after()
    )


def create_due(at: datetime | None = None) -> int:
    """Create the missing delivery rows of every due rule's participants, in one statement."""
    return rows.insert_for(_due_rules(at or clock.now()))


def settle_due(at: datetime) -> int:
    """Mark due pending deliveries that must not be sent, in one statement: those of muted
    people `opted_out`, reminders whose event started and follow-ups too late `missed`."""
    late = Q(rule__kind=Kind.REMINDER, rule__event__start_date__lte=at) | Q(
        rule__kind=Kind.FOLLOW_UP, due_at__lt=at - missed_after()
    )
    muted = _muted()
    return (
        Delivery.objects.filter(state=State.PENDING, due_at__lte=at)
        .filter(late | muted)
        .update(
            state=Case(
                When(muted, then=Value(State.OPTED_OUT)),
                default=Value(State.MISSED),
                output_field=CharField(),
            )
        )
    )


def _without_row() -> Exists:
    """On MessageRule: a participant with an address has no delivery of the rule yet."""
    delivery = Delivery.objects.filter(
        rule_id=OuterRef(OuterRef("pk")), user_id=OuterRef("user_id")
    )
    return Exists(
        Participation.objects.filter(event_id=OuterRef("event_id"))
        .exclude(user__email="")
        .exclude(Exists(delivery))
    )


def next_due(at: datetime) -> datetime | None:
    """When deliveries are next due: `at` if one can be sent or created now, else the earliest
    later due moment of a pending delivery or of a rule whose rows are still to be created."""
    if pending(at).exists() or _due_rules(at).filter(_without_row()).exists():
        return at
    later_delivery = Delivery.objects.filter(state=State.PENDING, due_at__gt=at).aggregate(
        first=Min("due_at")
    )["first"]
    later_rule = (
        MessageRule.objects.filter(rows.creatable(at), due_at__gt=at)
        .filter(_without_row())
        .aggregate(first=Min("due_at"))["first"]
    )
    due = [moment for moment in (later_delivery, later_rule) if moment is not None]
    return min(due) if due else None
