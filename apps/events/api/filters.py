"""Discovery list parameters: `?q=`, `?starts_after=`, `?starts_before=`, `?status=`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django_filters.fields import BaseCSVField, IsoDateTimeField
from django_filters.widgets import BaseCSVWidget

from apps.events.models import Event

ACTIVE_CHOICES = [(s.value, s.label) for s in Event.ACTIVE_STATUSES]


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 datetime, naive read in Europe/London, handed to the database in UTC.

    PostgreSQL refuses offsets beyond ±15:59 that Python accepts (up to ±23:59).
    """

    def clean(self, value: str | None) -> datetime | None:
        parsed = super().clean(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
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
        help_text="Events starting at or after this time (naive: Europe/London).",
    )
    starts_before = UtcIsoDateTimeFilter(
        field_name="start_date",
        lookup_expr="lt",
        help_text="Events starting before this time (naive: Europe/London).",
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
