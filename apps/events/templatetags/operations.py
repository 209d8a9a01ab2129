"""The admin's operator banners: beat stale (core/heartbeat.py)."""

from __future__ import annotations

from typing import Any

from django import template

from core import heartbeat

register = template.Library()


@register.inclusion_tag("admin/scheduler_banner.html")
def scheduler_banner() -> dict[str, Any]:
    status = heartbeat.scheduler_status()
    return {"status": status, "stale": status.state == heartbeat.STALE}
