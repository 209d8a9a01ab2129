"""What a message says: subject, text and HTML bodies, the calendar file, a stable Message-ID,
and the one-click unsubscribe link and headers (RFC 8058)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from email.utils import parseaddr
from functools import cache
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core import mail
from django.core.exceptions import ObjectDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone as django_timezone
from django.utils.html import escape, linebreaks

from apps.accounts.profiles import is_known_timezone
from apps.events import calendars, zones
from apps.events.messages import templating, unsubscribe
from apps.events.models import Delivery, Event, MessageRule

Kind = MessageRule.Kind

# Subject and body of a rule left blank. A reminder's are the files of the original reminder.
DEFAULT_TEXTS: dict[str, tuple[str, str]] = {
    Kind.FOLLOW_UP: (
        "Thank you for coming to {{ event.title }}",
        "Hello {{ user.username }},\n\nthank you for taking part in {{ event.title }}.",
    ),
    Kind.CANCELLATION: (
        "Cancelled: {{ event.title }}",
        "Hello {{ user.username }},\n\n{{ event.title }}, planned for "
        '{{ event.start_date|date:"l j F Y, H:i T" }}, has been cancelled.',
    ),
    Kind.REMINDER: (
        "Reminder: {{ event.title }}",
        "Hello {{ user.username }},\n\n{{ event.title }} starts "
        '{{ event.start_date|date:"l j F Y, H:i T" }}.',
    ),
}


def message_id(delivery: Delivery) -> str:
    """The same Message-ID however often the delivery is sent, so a resend is recognisable."""
    return (
        f"<delivery-{delivery.pk}.rule-{delivery.rule_id}@{_domain(settings.DEFAULT_FROM_EMAIL)}>"
    )


@cache
def _domain(from_email: str) -> str:
    """The sender's domain, parsed once per address: parsing it was a third of an email's
    rendering."""
    return parseaddr(from_email)[1].rpartition("@")[2] or "eventide.local"


@dataclass(frozen=True)
class EventParts:
    """What every email of one rule in one zone shares, made once per run rather than once
    per email.

    Times are shown in `timezone` (the recipient's, else the event's), always naming it, and in
    the event's own zone too when that differs. The bodies are rendered once with a placeholder
    where the recipient's name goes; each email only substitutes the name (HTML-escaped in the
    HTML part, as the template would).
    """

    subject: str
    calendar: str | None
    text: str
    html: str
    placeholder: str

    @classmethod
    def of(cls, rule: MessageRule, timezone: str | None = None) -> EventParts:
        event = rule.event
        placeholder = f"recipient-{uuid.uuid4().hex}"
        shown = timezone or event.timezone
        with django_timezone.override(zones.zone(shown)):
            if rule.kind == Kind.REMINDER and not (rule.subject or rule.body):
                subject, text, html = _original_reminder(event, placeholder, shown)
            else:
                subject, text, html = _from_rule(rule, placeholder)
        return cls(
            subject=" ".join(subject.split()),
            calendar=calendar_for(event) if rule.kind == Kind.REMINDER else None,
            text=text,
            html=html,
            placeholder=placeholder,
        )

    def bodies_for(self, username: str) -> tuple[str, str]:
        return (
            self.text.replace(self.placeholder, username),
            self.html.replace(self.placeholder, escape(username)),
        )


def _original_reminder(event: Event, placeholder: str, shown: str) -> tuple[str, str, str]:
    recipient = SimpleNamespace(get_username=lambda: placeholder)
    context = {
        "event": event,
        "user": recipient,
        "lead_hours": settings.REMINDER_LEAD_HOURS,
        "when": when(event, shown),
        "event_when": when(event, event.timezone) if shown != event.timezone else None,
    }
    return (
        render_to_string("events/email/reminder_subject.txt", context),
        render_to_string("events/email/reminder.txt", context),
        render_to_string("events/email/reminder.html", context),
    )


def template_context(event: Event, username: str) -> dict[str, Any]:
    """What a rule's template may read: plain values, never a model instance."""
    return {
        "event": SimpleNamespace(
            title=event.title,
            venue=event.venue,
            description=event.description,
            start_date=event.start_date,
            end_date=event.end_date,
        ),
        "user": SimpleNamespace(username=username, get_username=lambda: username),
    }


def _from_rule(rule: MessageRule, placeholder: str) -> tuple[str, str, str]:
    default_subject, default_body = DEFAULT_TEXTS[rule.kind]
    context = template_context(rule.event, placeholder)
    subject = templating.render(rule.subject or default_subject, context, autoescape=False)
    body = rule.body or default_body
    text = templating.render(body, context, autoescape=False)
    html = linebreaks(templating.render(body, context, autoescape=True))
    return subject, text, f"<!doctype html>\n<html><body>{html}</body></html>"


def recipient_timezone(user: User) -> str | None:
    """The zone the recipient chose (`User.timezone`), or None when they have no profile."""
    try:
        name = str(user.profile.timezone)  # type: ignore[attr-defined]
    except ObjectDoesNotExist:
        return None
    return name if is_known_timezone(name) else None


def when(event: Event, timezone: str) -> dict[str, Any]:
    """The event's start and end as local times of `timezone`, for the templates."""
    return {
        "timezone": timezone,
        "start": zones.local(event.start_date, timezone),
        "end": None if event.end_date is None else zones.local(event.end_date, timezone),
    }


def build_message(
    delivery: Delivery, parts: EventParts | None = None
) -> mail.EmailMultiAlternatives:
    # No `connection=`: the caller hands the message to its backend, and a message that carries
    # its backend makes the locmem backend's deepcopy of it copy the backend too.
    rule, user = delivery.rule, delivery.user
    parts = parts or EventParts.of(rule, recipient_timezone(user))
    text, html = parts.bodies_for(user.get_username())
    link = unsubscribe.url_for(rule.event_id, user.pk)
    message = mail.EmailMultiAlternatives(
        subject=parts.subject,
        body=f"{text.rstrip()}\n\n--\nNo more emails about this event: {link}\n",
        to=[user.email],
        headers={
            "Message-ID": message_id(delivery),
            "List-Unsubscribe": f"<{link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    footer = f'<p><a href="{escape(link)}">No more emails about this event</a></p>'
    message.attach_alternative(html.replace("</body>", f"{footer}</body>", 1), "text/html")
    if parts.calendar is not None:
        message.attach(f"event-{rule.event_id}.ics", parts.calendar, "text/calendar")
    return message


def calendar_for(event: Event) -> str:
    """The event's calendar file: the same VEVENT as its .ics and the calendar feeds."""
    return calendars.document([event]).decode()
