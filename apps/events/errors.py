"""One refusal type for the whole domain (CONTRACT §4). Each edge maps it once:

* API (`api/exceptions.refusal`): `InvalidValue` with a field → 400 naming the field, any other
  `Refused` → 409;
* pages: a form error on `field` when the form has it, else a message;
* admin: `message_user`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError

if TYPE_CHECKING:
    from apps.events.models import Event


class Refused(Exception):
    """The event's state does not allow this now (409 in the API).

    `field`, when set, is the input the refusal is about, so a form can show it there.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidValue(Refused):
    """The value given for `field` breaks a rule (400 naming the field in the API)."""


class EditRefused(Refused):
    """The event's status does not allow this edit or deletion."""


class ParticipationRefused(Refused):
    """Joining or leaving is not possible now."""


class InvalidTransition(Refused, ValidationError):  # type: ignore[misc]  # message is a str in both
    """A transition the state machine does not allow; a ValidationError too, as CONTRACT §2 says."""

    def __init__(self, event: Event, to_status: str, reason: str) -> None:
        self.event = event
        self.from_status = event.status
        self.to_status = to_status
        self.reason = reason
        super().__init__(
            f"Cannot move event {event.pk} from {event.status} to {to_status}: {reason}"
        )
