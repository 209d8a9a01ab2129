"""Discovery list parameters: `?q=`, `?starts_after=`, `?starts_before=`, `?status=`."""

from __future__ import annotations

from datetime import UTC, datetime

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

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


class StatusInFilter(django_filters.BaseInFilter, django_filters.ChoiceFilter):
    """A comma-separated list of statuses, each one checked against the choices."""


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
        help_text="Comma-separated; discovery holds CONFIRMED and ONGOING events only.",
    )

    class Meta:
        model = Event
        fields: list[str] = []
