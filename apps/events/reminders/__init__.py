"""The sending engine of lifecycle messages: one email per delivery (rule and participant).

The default rule is the original reminder, REMINDER_LEAD_HOURS before the start. `queries` says
which are due, creates missing rows and settles late ones, `sending` sends each exactly once (its
docstring states the guarantee), `rendering` builds the message. The names below are the
package's public face; the tasks and the scheduler use them.
"""

from apps.events.reminders.queries import (
    create_due,
    lead_time,
    missed_after,
    next_due,
    pending,
    settle_due,
)
from apps.events.reminders.rendering import build_message, calendar_for, message_id
from apps.events.reminders.sending import send_due

__all__ = [
    "build_message",
    "calendar_for",
    "create_due",
    "lead_time",
    "message_id",
    "missed_after",
    "next_due",
    "pending",
    "send_due",
    "settle_due",
]
