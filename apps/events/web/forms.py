"""Forms of the pages; what they create or change goes through `apps.events.editing`.

Datetimes typed into the forms are naive and read in the project's zone (Europe/London), the
same rule as the API; a time that does not exist there (the hour skipped in March) is an error.
"""

from __future__ import annotations

from typing import Any

from django import forms

from apps.events import editing
from apps.events.models import Event


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
        fields = editing.EDITABLE_FIELDS
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
