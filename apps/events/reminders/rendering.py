"""What a reminder says: subject, text and HTML bodies, the calendar file, a stable Message-ID."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from email.utils import parseaddr
from types import SimpleNamespace

from django.conf import settings
from django.core import mail
from django.template.loader import render_to_string
from django.utils.html import escape

from apps.events import calendars
from apps.events.models import Event, Reminder


def message_id(reminder: Reminder) -> str:
    """The same Message-ID however often the reminder is sent, so a resend is recognisable."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "eventide.local"
    return f"<reminder-{reminder.pk}.event-{reminder.event_id}@{domain}>"


@dataclass(frozen=True)
class EventParts:
    """What every reminder of one event shares, made once per run rather than once per email.

    The bodies are rendered once with a placeholder where the recipient's name goes; each
    email only substitutes the name (HTML-escaped in the HTML part, as the template would).
    """

    subject: str
    calendar: str
    text: str
    html: str
    placeholder: str

    @classmethod
    def of(cls, event: Event) -> EventParts:
        placeholder = f"recipient-{uuid.uuid4().hex}"
        recipient = SimpleNamespace(get_username=lambda: placeholder)
        context = {"event": event, "user": recipient, "lead_hours": settings.REMINDER_LEAD_HOURS}
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
    parts = parts or EventParts.of(event)
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


def calendar_for(event: Event) -> str:
    """The event's calendar file: the same VEVENT as its .ics and the calendar feeds."""
    return calendars.document([event]).decode()
