"""Discovery list parameters: `?q=`, `?starts_after=`, `?starts_before=`, `?status=`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.utils.dateparse import parse_datetime
from django_filters.fields import BaseCSVField, IsoDateTimeField
from django_filters.widgets import BaseCSVWidget

from apps.events import errors, zones
from apps.events.models import Event

ACTIVE_CHOICES = [(s.value, s.label) for s in Event.ACTIVE_STATUSES]


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 datetime, naive read in the viewer's zone (`viewer_zone`, set by the filter
    set; else TIME_ZONE), handed to the database in UTC. A naive time in that zone's spring gap
    is refused, an ambiguous one is its first occurrence.

    PostgreSQL refuses offsets beyond ±15:59 that Python accepts (up to ±23:59).
    """

    viewer_zone: Callable[[], str] = staticmethod(zones.default_timezone)

    def to_python(self, value: Any) -> datetime | None:
        if value in self.empty_values:
            return None
        try:
            parsed = parse_datetime(str(value).strip())
        except ValueError:
            parsed = None
        if parsed is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return parsed

    def clean(self, value: str | None) -> datetime | None:
        parsed = super().clean(value)
        if parsed is None:
            return None
        try:
            if parsed.tzinfo is None:
                parsed = zones.read_local(parsed, zones.zone(self.viewer_zone()), "")
            return parsed.astimezone(UTC)
        except errors.InvalidValue as invalid:
            raise forms.ValidationError(invalid.message, code="invalid") from invalid
        except OverflowError as exc:
            raise forms.ValidationError("Out of range.", code="invalid") from exc


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


def split_list(values: Iterable[str]) -> list[str]:
    """A list parameter's values, sent repeated (`?status=A&status=B`, what OpenAPI clients send
    for an exploded array) or comma-separated (`?status=A,B`), or both."""
    return [part for value in values if value for part in value.split(",")]


def query_list(data: Mapping[str, Any], name: str) -> list[str] | None:
    """Every value of `name` in a query (a QueryDict), or None when it is absent."""
    if name not in data:
        return None
    getlist = getattr(data, "getlist", None)
    values = getlist(name) if getlist else [data[name]]
    return split_list(values)


class ListWidget(BaseCSVWidget):
    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[str] | None:
        return query_list(data, name)


class ListField(BaseCSVField):
    base_widget_class = ListWidget


class StatusInFilter(django_filters.BaseInFilter, django_filters.ChoiceFilter):
    """A list of statuses (repeated or comma-separated), each checked against the choices."""

    base_field_class = ListField


class DiscoveryFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        field_name="title", lookup_expr="icontains", max_length=200, help_text="Title contains."
    )
    starts_after = UtcIsoDateTimeFilter(
        field_name="start_date",
        lookup_expr="gte",
        help_text="Events starting at or after this time (naive: the signed-in user's time zone, "
        "else TIME_ZONE, Europe/London).",
    )
    starts_before = UtcIsoDateTimeFilter(
        field_name="start_date",
        lookup_expr="lt",
        help_text="Events starting before this time (naive: the signed-in user's time zone, "
        "else TIME_ZONE, Europe/London).",
    )
    status = StatusInFilter(
        field_name="status",
        choices=ACTIVE_CHOICES,
        help_text="Repeat the key or separate with commas; discovery holds CONFIRMED and ONGOING "
        "events only.",
    )

    class Meta:
        model = Event
        fields: list[str] = []

    @property
    def form(self) -> forms.Form:
        form: forms.Form = super().form
        user = getattr(self.request, "user", None)
        for name in ("starts_after", "starts_before"):
            # Looked up only when a naive time is given: a plain list costs no profile query.
            form.fields[name].viewer_zone = lambda: zones.viewer_timezone(user)  # type: ignore[attr-defined]
        return form
