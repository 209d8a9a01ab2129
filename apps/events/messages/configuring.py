"""Message rules organisers configure, and the deliveries they give (CONTRACT §3).

Every write happens under the event's row lock (the lock edits, joins and transitions take), so
a rule, its `due_at` and its pending deliveries always agree with the event's dates. Moving the
pending deliveries is one UPDATE whatever their number.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Case, DateTimeField, Q, Value, When

from apps.events import clock, effects, errors
from apps.events.messages import due, rows, templating
from apps.events.models import Delivery, Event, MessageOptOut, MessageRule

Kind = MessageRule.Kind
State = Delivery.State
Status = Event.EventStatus

ORGANISER_KINDS = (Kind.REMINDER, Kind.FOLLOW_UP)
RULE_FIELDS = ("kind", "offset", "local_time", "subject", "body")
# Nothing more is sent for these: their rules are a record.
CLOSED_STATUSES = frozenset({Status.CANCELLED, Status.ARCHIVED})


def default_offset() -> timedelta:
    return timedelta(hours=settings.REMINDER_LEAD_HOURS)


def add_default_rule(event: Event) -> MessageRule:
    """The reminder every event starts with: REMINDER_LEAD_HOURS before the start."""
    [rule] = add_default_rules([event])
    return rule


def add_default_rules(events: Sequence[Event]) -> list[MessageRule]:
    """The default reminder of each of `events` (created in bulk), in one INSERT."""
    rules = [
        MessageRule(event=event, kind=Kind.REMINDER, offset=default_offset()) for event in events
    ]
    for rule in rules:
        rule.due_at = due.due_at_for(rule, rule.event)
    return MessageRule.objects.bulk_create(rules)


def _new_rule(event: Event, **fields: Any) -> MessageRule:
    rule = MessageRule(event=event, **fields)
    rule.due_at = due.due_at_for(rule, event)
    rule.save()
    return rule


def check_rule(fields: dict[str, Any]) -> None:
    """InvalidValue naming the field when a rule's value cannot be used."""
    if "kind" in fields and fields["kind"] not in ORGANISER_KINDS:
        raise errors.InvalidValue("kind must be reminder or follow_up.", field="kind")
    offset = fields.get("offset")
    if offset is not None and not isinstance(offset, timedelta):
        raise errors.InvalidValue("offset must be a duration.", field="offset")
    if offset is not None and (offset < timedelta(0) or offset > due.MAX_OFFSET):
        raise errors.InvalidValue("offset must be between PT0S and P366D.", field="offset")
    local_time = fields.get("local_time")
    if local_time is not None and not isinstance(local_time, time):
        raise errors.InvalidValue("local_time must be HH:MM.", field="local_time")
    for name in ("subject", "body"):
        if name in fields:
            try:
                templating.compile_template(fields[name])
            except templating.TemplateRefused as refused:
                raise errors.InvalidValue(str(refused), field=name) from None


def _locked_event(event_id: int) -> Event:
    event = Event.objects.select_for_update().get(pk=event_id)
    if event.status in CLOSED_STATUSES:
        raise errors.EditRefused(f"Event is {event.status}; its messages can no longer change.")
    return event


def create_rule(event_id: int, **fields: Any) -> MessageRule:
    """A new rule with one pending delivery per participant; InvalidValue/EditRefused refuse."""
    fields = {name: fields[name] for name in RULE_FIELDS if name in fields}
    check_rule({"kind": fields.get("kind"), **fields})
    if fields.get("offset") is None:
        raise errors.InvalidValue("offset is required.", field="offset")
    with transaction.atomic():
        event = _locked_event(event_id)
        rule = _new_rule(event, **fields)
        rows.insert_for(MessageRule.objects.filter(rows.creatable(clock.now()), pk=rule.pk))
        effects.reschedule_after_commit(event.pk)
    return rule


def update_rule(event_id: int, rule_id: int, **changes: Any) -> MessageRule:
    """Change a rule; its pending deliveries move to its new due moment (one UPDATE)."""
    changes = {name: changes[name] for name in RULE_FIELDS if name in changes}
    check_rule(changes)
    if "offset" in changes and changes["offset"] is None:
        raise errors.InvalidValue("offset is required.", field="offset")
    with transaction.atomic():
        event = _locked_event(event_id)
        rule = MessageRule.objects.get(pk=rule_id, event=event, kind__in=ORGANISER_KINDS)
        for name, value in changes.items():
            setattr(rule, name, value)
        rule.due_at = due.due_at_for(rule, event)
        rule.save()
        Delivery.objects.filter(rule=rule, state=State.PENDING).update(due_at=rule.due_at)
        effects.reschedule_after_commit(event.pk)
    return rule


def delete_rule(event_id: int, rule_id: int) -> None:
    """Delete an organiser's rule and its deliveries (its log goes with it)."""
    with transaction.atomic():
        event = _locked_event(event_id)
        deleted, _ = MessageRule.objects.filter(
            pk=rule_id, event=event, kind__in=ORGANISER_KINDS
        ).delete()
    if not deleted:
        raise MessageRule.DoesNotExist(f"Rule {rule_id} of event {event_id} does not exist.")


def reschedule_event(event: Event) -> int:
    """After the event's dates (or zone) changed, with the event locked: every rule's new due
    moment, then its pending deliveries moved there in one UPDATE; returns the rows moved."""
    rules = list(event.message_rules.filter(kind__in=ORGANISER_KINDS))
    if not rules:
        return 0
    for rule in rules:
        rule.due_at = due.due_at_for(rule, event)
    MessageRule.objects.bulk_update(rules, ["due_at"])
    # One statement on the deliveries table alone: the few rules' moments as a CASE.
    moments = [When(rule_id=rule.pk, then=Value(rule.due_at)) for rule in rules]
    return Delivery.objects.filter(
        rule_id__in=[rule.pk for rule in rules], state=State.PENDING
    ).update(due_at=Case(*moments, output_field=DateTimeField()))


def add_participant(event: Event, user: User) -> int:
    """The new participant's deliveries of every rule still to come (the event locked)."""
    rules = event.message_rules.filter(rows.creatable(clock.now()))
    return rows.insert_for(rules, Q(event__participations__user=user))


def remove_participant(event: Event, user: User) -> int:
    """Someone who left gets none of the messages still to come: their pending rows go (a new
    join writes them again)."""
    return Delivery.objects.filter(rule__event=event, user=user, state=State.PENDING).delete()[0]


def cancel_messages(event: Event, at: datetime) -> int:
    """In the cancel transition's transaction: pending deliveries are skipped, and one notice
    per participant is written as a delivery (the worker sends it); returns the notices."""
    Delivery.objects.filter(rule__event=event, state=State.PENDING).update(state=State.SKIPPED)
    notice, _ = MessageRule.objects.get_or_create(
        event=event, kind=Kind.CANCELLATION, defaults={"offset": timedelta(0), "due_at": at}
    )
    return rows.insert_for(MessageRule.objects.filter(pk=notice.pk))


def mute(event_id: int, user_id: int) -> int:
    """`user_id` gets no more messages about `event_id`; returns the deliveries opted out."""
    with transaction.atomic():
        MessageOptOut.objects.bulk_create(
            [MessageOptOut(event_id=event_id, user_id=user_id, at=clock.now())],
            ignore_conflicts=True,
        )
        return Delivery.objects.filter(
            rule__event_id=event_id, user_id=user_id, state=State.PENDING
        ).update(state=State.OPTED_OUT)
