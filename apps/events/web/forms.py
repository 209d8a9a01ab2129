"""Forms of the pages; what they create or change goes through `apps.events.editing`.

Datetimes typed into the forms are naive and read in the project's zone (Europe/London), the
same rule as the API; a time that does not exist there (the hour skipped in March) is an error.
"""

from __future__ import annotations

from typing import Any

from django import forms

from apps.events import editing, errors
from apps.events.messages import configuring, due, templating
from apps.events.models import Event, MessageRule


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

    def _post_clean(self) -> None:
        # The rules across fields (dates, capacity, status) are `editing`'s, checked under the
        # row lock when the view writes; the model's checks would only repeat them in other words
        # (e.g. "Constraint event_end_after_start is violated").
        pass

    def add_refusal(self, refused: errors.Refused) -> None:
        """Show a refusal of the domain on the field it is about, else above the form."""
        self.add_error(refused.field if refused.field in self.fields else None, refused.message)


class MessageRuleForm(forms.Form):
    """A message rule as an organiser types it: ISO 8601 offset, HH:MM local time, templates."""

    kind = forms.ChoiceField(
        choices=[(kind.value, kind.label) for kind in configuring.ORGANISER_KINDS]
    )
    offset = forms.CharField(
        max_length=32,
        help_text="ISO 8601 duration: PT2H, P1D, P1DT12H. Before the start or after the end.",
    )
    local_time = forms.CharField(
        max_length=5,
        required=False,
        help_text="Optional HH:MM: that day at this time in the event's zone.",
    )
    subject = forms.CharField(max_length=200, required=False, help_text="Blank: the standard one.")
    body = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=f"Blank: the standard text. Placeholders: {templating.PLACEHOLDERS}.",
    )

    def __init__(self, data: Any = None, *, instance: MessageRule | None = None) -> None:
        initial = None
        if instance is not None:
            initial = {
                "kind": instance.kind,
                "offset": due.format_offset(instance.offset),
                "local_time": instance.local_time.strftime("%H:%M") if instance.local_time else "",
                "subject": instance.subject,
                "body": instance.body,
            }
        super().__init__(data, initial=initial)

    def clean_offset(self) -> Any:
        offset = due.parse_offset(self.cleaned_data["offset"].strip())
        if offset is None:
            raise forms.ValidationError("Not an ISO 8601 duration such as PT2H or P1D.")
        return offset

    def clean_local_time(self) -> Any:
        text = self.cleaned_data["local_time"].strip()
        if not text:
            return None
        parsed = due.parse_local_time(text)
        if parsed is None:
            raise forms.ValidationError("Use HH:MM, e.g. 09:00.")
        return parsed

    def add_refusal(self, refused: errors.Refused) -> None:
        self.add_error(refused.field if refused.field in self.fields else None, refused.message)
