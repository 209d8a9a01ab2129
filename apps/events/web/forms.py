"""Forms of the pages; what they create or change goes through `apps.events.editing`.

Datetimes typed into the forms are naive and read in the event's zone (the one chosen in the
same form first), the same rule as the API (`editing.read_times`); a time that does not exist
there (the hour skipped in spring) is an error, an ambiguous one its first occurrence. The admin
uses the same fields and mixin.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.forms.fields import BaseTemporalField

from apps.events import editing, errors, zones
from apps.events.messages import configuring, due, templating
from apps.events.models import Event, MessageRule


class LocalDateTimeInput(forms.DateTimeInput):
    """`<input type="datetime-local">` to the second, shown in the project's zone."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs={"step": "1", **(attrs or {})}, format="%Y-%m-%dT%H:%M:%S")


# Seconds are optional: browsers send "2026-12-05T19:00" when the seconds are zero.
LOCAL_FORMATS = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]


class LocalDateTimeField(forms.DateTimeField):
    """A typed local time, kept naive: the form reads it in the event's zone (`clean`)."""

    def to_python(self, value: Any) -> datetime | None:
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            return value
        result = BaseTemporalField.to_python(self, value)
        assert isinstance(result, datetime)  # strptime of DateTimeField
        return result


class LocalSplitDateTimeField(forms.SplitDateTimeField):
    """The admin's date and time boxes, kept naive like `LocalDateTimeField`."""

    def compress(self, data_list: Any) -> datetime | None:
        if not data_list:
            return None
        if data_list[0] in self.empty_values:
            raise forms.ValidationError(self.error_messages["invalid_date"], code="invalid_date")
        if data_list[1] in self.empty_values:
            raise forms.ValidationError(self.error_messages["invalid_time"], code="invalid_time")
        return datetime.combine(*data_list)


def timezone_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        label="Time zone",
        choices=zones.choices,
        required=False,
        help_text="The event's times are typed and shown in it. Changing only the zone keeps "
        "the instants.",
    )


class LocalTimesMixin(forms.ModelForm):
    """Shows an event's dates as local times in its zone and reads typed ones in the zone chosen
    (else the event's, else TIME_ZONE); an empty zone keeps the event's. A date left as shown
    keeps its stored instant, so saving unchanged, or changing only the zone, moves nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            for name in zones.DATETIME_FIELDS:
                value = getattr(self.instance, name)
                self.initial[name] = zones.local_naive(value, self.instance.timezone)

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if not cleaned.get("timezone"):
            cleaned.pop("timezone", None)
        if self.errors:
            return cleaned
        event = self.instance if self.instance.pk is not None else None
        if event is not None:
            for name in zones.DATETIME_FIELDS:
                if name in cleaned and name not in self.changed_data:
                    cleaned[name] = getattr(event, name)
        try:
            cleaned.update(editing.read_times(cleaned, event))
        except errors.Refused as refused:
            self.add_error(refused.field if refused.field in self.fields else None, refused.message)
        return cleaned


class EventForm(LocalTimesMixin):
    timezone = timezone_field()
    start_date = LocalDateTimeField(
        label="Starts",
        widget=LocalDateTimeInput(),
        input_formats=LOCAL_FORMATS,
        help_text="Local time in the event's time zone.",
    )
    end_date = LocalDateTimeField(
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
