from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from apps.events.models import Event


class IsOrganizer(BasePermission):
    message = "Only the event's organizer can do this."

    def has_object_permission(self, request: Request, view: Any, obj: Event) -> bool:
        return bool(request.user.is_authenticated and obj.organizer_id == request.user.pk)
