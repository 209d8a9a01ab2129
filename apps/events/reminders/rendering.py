"""What a reminder says: subject, text and HTML bodies, the calendar file, a stable Message-ID."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from email.utils import parseaddr
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core import mail
from django.core.exceptions import ObjectDoesNotExist
from django.template.loader import render_to_string
from django.utils.html import escape

from apps.accounts.profiles import is_known_timezone
from apps.events import calendars, zones
from apps.events.models import Event, Reminder


def message_id(reminder: Reminder) -> str:
    """The same Message-ID however often the reminder is sent, so a resend is recognisable."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "eventide.local"
    return f"<reminder-{reminder.pk}.event-{reminder.event_id}@{domain}>"


@dataclass(frozen=True)
class EventParts:
    """What every reminder of one event in one zone shares, made once per run rather than once
    per email.

    Times are shown in `timezone` (the recipient's, else the event's), always naming it, and in
    the event's own zone too when that differs. The bodies are rendered once with a placeholder
    where the recipient's name goes; each email only substitutes the name (HTML-escaped in the
    HTML part, as the template would).
    """

    subject: str
    calendar: str
    text: str
    html: str
    placeholder: str

    @classmethod
    def of(cls, event: Event, timezone: str | None = None) -> EventParts:
        placeholder = f"recipient-{uuid.uuid4().hex}"
        recipient = SimpleNamespace(get_username=lambda: placeholder)
        shown = timezone or event.timezone
        context = {
            "event": event,
            "user": recipient,
            "lead_hours": settings.REMINDER_LEAD_HOURS,
            "when": when(event, shown),
            "event_when": when(event, event.timezone) if shown != event.timezone else None,
        }
        subject = " ".join(render_to_string("events/email/reminder_subject.txt", context).split())
        return cls(
            subject=subject,
            calendar=calendar_for(event),
            text=render_to_string("events/email/reminder.txt", context),
            html=render_to_string("events/email/reminder.html", context),
            placeholder=placeholder,
        )

    def bodies_for(self, username: str) -> tuple[str, str]:
        return (
            self.text.replace(self.placeholder, username),
            self.html.replace(self.placeholder, escape(username)),
        )


def build_message(
    reminder: Reminder, parts: EventParts | None = None
) -> mail.EmailMultiAlternatives:
    # No `connection=`: the caller hands the message to its backend, and a message that carries
    # its backend makes the locmem backend's deepcopy of it copy the backend too.
    event, user = reminder.event, reminder.user
    parts = parts or EventParts.of(event, recipient_timezone(user))
    text, html = parts.bodies_for(user.get_username())
    message = mail.EmailMultiAlternatives(
        subject=parts.subject,
        body=text,
        to=[user.email],
        headers={"Message-ID": message_id(reminder)},
    )
    message.attach_alternative(html, "text/html")
    message.attach(f"event-{event.pk}.ics", parts.calendar, "text/calendar")
    return message


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


def calendar_for(event: Event) -> str:
    """The event's calendar file: the same VEVENT as its .ics and the calendar feeds."""
    return calendars.document([event]).decode()
