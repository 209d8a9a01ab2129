"""What a reminder says: subject, text and HTML bodies, the calendar file, a stable Message-ID."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from types import SimpleNamespace
from typing import Any

import icalendar
from django.conf import settings
from django.contrib.auth.models import User
from django.core import mail
from django.core.exceptions import ObjectDoesNotExist
from django.template.loader import render_to_string
from django.utils.html import escape

from apps.accounts.profiles import is_known_timezone
from apps.events import clock, zones
from apps.events.models import Event, Reminder

# The VTIMEZONE covers the event's dates with this margin either side.
VTIMEZONE_MARGIN = timedelta(days=366)


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


def _ical_time(value: datetime, tz: Any) -> datetime:
    """Local time with its TZID; the second occurrence of an ambiguous local time cannot be told
    from the first by TZID and wall time alone, so it is written in UTC instead."""
    local = value.astimezone(tz)
    if local.fold and local.replace(fold=0).utcoffset() != local.utcoffset():
        return value.astimezone(UTC)
    return local


def calendar_for(event: Event) -> str:
    """An iCalendar file with the event, times local to its zone (TZID) with that VTIMEZONE."""
    tz = zones.zone(event.timezone)
    last = event.end_date or event.start_date
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Eventide//Event reminder//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add_component(
        icalendar.Timezone.from_tzinfo(
            tz,
            tzid=tz.key,
            first_date=(event.start_date - VTIMEZONE_MARGIN).date(),
            last_date=(last + VTIMEZONE_MARGIN).date(),
        )
    )
    entry = icalendar.Event()
    entry.add("uid", f"event-{event.pk}@eventide")
    entry.add("dtstamp", clock.now())
    entry.add("dtstart", _ical_time(event.start_date, tz))
    if event.end_date is not None:
        entry.add("dtend", _ical_time(event.end_date, tz))
    entry.add("summary", event.title)
    if event.venue:
        entry.add("location", event.venue)
    if event.description:
        entry.add("description", event.description)
    entry.add("status", "CONFIRMED")
    calendar.add_component(entry)
    return calendar.to_ical().decode()
