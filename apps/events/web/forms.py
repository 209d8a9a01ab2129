"""Forms of the pages, and the create/update functions they feed (plain, typed, testable).

Datetimes typed into the forms are naive and read in the project's zone (Europe/London), the
same rule as the API; a time that does not exist there (the hour skipped in March) is an error.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm, UsernameField
from django.db import transaction

from apps.events.models import Event

Status = Event.EventStatus

# Statuses in which the organizer may still edit the event (CONTRACT §4, PATCH).
EDITABLE_STATUSES = frozenset({Status.DRAFT, Status.CONFIRMED, Status.ONGOING})
EVENT_FIELDS = ("title", "description", "venue", "start_date", "end_date", "capacity")


class NotEditable(Exception):
    """The event is COMPLETED, CANCELLED or ARCHIVED: it can no longer be edited."""


class LocalDateTimeInput(forms.DateTimeInput):
    """`<input type="datetime-local">` to the second, shown in the project's zone."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs={"step": "1", **(attrs or {})}, format="%Y-%m-%dT%H:%M:%S")


# Seconds are optional: browsers send "2026-12-05T19:00" when the seconds are zero.
LOCAL_FORMATS = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]


class EventForm(forms.ModelForm):
    start_date = forms.DateTimeField(
        label="Starts",
        widget=LocalDateTimeInput(),
        input_formats=LOCAL_FORMATS,
        help_text="UK time (Europe/London).",
    )
    end_date = forms.DateTimeField(
        label="Ends",
        required=False,
        widget=LocalDateTimeInput(),
        input_formats=LOCAL_FORMATS,
        help_text="Optional, after the start. Without it the event never ends on its own.",
    )
    capacity = forms.IntegerField(
        required=False,
        min_value=1,
        help_text="Optional; leave empty for no limit.",
    )

    class Meta:
        model = Event
        fields = EVENT_FIELDS
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        start, end = cleaned.get("start_date"), cleaned.get("end_date")
        if start and end and end <= start:
            self.add_error("end_date", "The end must be after the start.")
        return cleaned

    def _post_clean(self) -> None:
        # Once a field is wrong, the model's checks would run on half-updated values and repeat
        # the error in their own words (e.g. "Constraint event_end_after_start is violated").
        if not self.errors:
            super()._post_clean()  # type: ignore[misc]


def create_event(organizer: Any, data: dict[str, Any]) -> Event:
    """A new DRAFT event organized by `organizer`, from cleaned form data."""
    return Event.objects.create(
        organizer=organizer,
        status=Status.DRAFT,
        **{name: data.get(name) for name in EVENT_FIELDS if name in data},
    )


def update_event(event_id: int, data: dict[str, Any]) -> Event:
    """Apply cleaned form data to an event that is still editable; raises NotEditable if not."""
    with transaction.atomic():
        # Locked so a sweep or a transition cannot finish the event between the check and the save.
        event = Event.objects.select_for_update().get(pk=event_id)
        if event.status not in EDITABLE_STATUSES:
            raise NotEditable(f"A {event.get_status_display().lower()} event cannot be edited.")
        fields = [name for name in EVENT_FIELDS if name in data]
        for name in fields:
            setattr(event, name, data[name])
        event.save(update_fields=[*fields, "updated_at"])
    return event


class SignupForm(UserCreationForm):
    email = forms.EmailField(required=True)

    class Meta:
        model = get_user_model()
        fields = ("username", "email")
        field_classes = {"username": UsernameField}
