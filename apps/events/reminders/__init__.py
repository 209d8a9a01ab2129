"""Reminder emails: one per participant and event, REMINDER_LEAD_HOURS before the start.

`queries` says which are due and creates their rows, `sending` sends each exactly once (its
docstring states the guarantee), `rendering` builds the message. The names below are the
package's public face; the tasks and the scheduler use them.
"""

from apps.events.reminders.queries import (
    create_due,
    due_participations,
    lead_time,
    next_due,
    pending,
)
from apps.events.reminders.rendering import build_message, calendar_for, message_id
from apps.events.reminders.sending import send_due

__all__ = [
    "build_message",
    "calendar_for",
    "create_due",
    "due_participations",
    "lead_time",
    "message_id",
    "next_due",
    "pending",
    "send_due",
]
