"""`{% event_time at event %}`: an instant in the event's zone with its abbreviation, and in the
signed-in viewer's own zone (`User.timezone`) too when that differs (CONTRACT §2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils.dateformat import format as format_date
from django.utils.html import format_html

from apps.events import zones
from apps.events.models import Event

register = template.Library()

SHOWN = "D j M Y, H:i T"


def _viewer_timezone(context: template.Context) -> str | None:
    """The signed-in viewer's zone, read once per request; None for an anonymous visitor."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if request is None or user is None or not user.is_authenticated:
        return None
    if not hasattr(request, "viewer_timezone"):
        request.viewer_timezone = zones.viewer_timezone(user)
    name: str = request.viewer_timezone
    return name


@register.simple_tag(takes_context=True)
def event_time(context: template.Context, at: datetime | None, event: Event) -> Any:
    if at is None:
        return ""
    there = zones.local(at, event.timezone)
    shown = format_html(
        '<time datetime="{}" title="{}">{}</time>',
        there.isoformat(),
        there.tzinfo.key,  # type: ignore[union-attr]
        format_date(there, SHOWN),
    )
    viewer = _viewer_timezone(context)
    if viewer is None or viewer == event.timezone:
        return shown
    mine = zones.local(at, viewer)
    return format_html(
        '{} <span class="viewer-time" title="{}">({} your time)</span>',
        shown,
        viewer,
        format_date(mine, SHOWN),
    )
