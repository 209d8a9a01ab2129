"""Admin for events: their status history, and actions that go through `lifecycle`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.events import effects, lifecycle
from apps.events.models import Event, EventStatusChange, Participation


class StatusChangeInline(admin.TabularInline):
    model = EventStatusChange
    fields = ("at", "from_status", "to_status", "source", "actor")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("at", "id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ParticipationInline(admin.TabularInline):
    model = Participation
    fields = ("user", "joined_at")
    readonly_fields = ("joined_at",)
    raw_id_fields = ("user",)
    extra = 0


def _transition_action(
    name: str, func: Callable[..., Event]
) -> Callable[[admin.ModelAdmin, HttpRequest, QuerySet[Event]], None]:
    def action(
        modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Event]
    ) -> None:
        done, refused = 0, []
        for event_id in queryset.values_list("id", flat=True):
            try:
                func(event_id, actor=request.user, source=EventStatusChange.Source.ADMIN)
                done += 1
            except lifecycle.InvalidTransition as exc:
                refused.append(exc.message)
        if done:
            modeladmin.message_user(request, f"{name}: {done} event(s).", messages.SUCCESS)
        for message in refused:
            modeladmin.message_user(request, message, messages.WARNING)

    action.__name__ = f"{name}_selected"
    return admin.action(description=f"{name.capitalize()} selected events")(action)


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("title", "status", "start_date", "end_date", "organizer", "completed_at")
    list_filter = ("status",)
    search_fields = ("title", "venue")
    date_hierarchy = "start_date"
    raw_id_fields = ("organizer",)
    readonly_fields = ("status", "created_at", "updated_at", "completed_at", "archived_at")
    inlines = (ParticipationInline, StatusChangeInline)
    actions = [
        _transition_action("confirm", lifecycle.confirm),
        _transition_action("complete", lifecycle.complete),
        _transition_action("cancel", lifecycle.cancel),
    ]
    list_select_related = ("organizer",)

    def save_model(self, request: HttpRequest, obj: Event, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if {"start_date", "end_date"} & set(form.changed_data):
            effects.reschedule_after_commit()


@admin.register(EventStatusChange)
class EventStatusChangeAdmin(admin.ModelAdmin):
    list_display = ("event", "from_status", "to_status", "at", "source", "actor")
    list_filter = ("source", "to_status")
    list_select_related = ("event", "actor")
    raw_id_fields = ("event", "actor")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
