"""Admin for events: their status history, and changes that go through the domain functions.

Edits go through `editing`, participants through `participation`, transitions through
`lifecycle`: the admin obeys the same rules as the API and the pages, under the same row lock.
A refusal undoes the whole save and is shown with `message_user`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminSplitDateTime
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from apps.events import editing, errors, lifecycle, participation, rules
from apps.events.models import (
    Delivery,
    Event,
    EventStatusChange,
    MessageRule,
    Participation,
    RetentionRun,
)
from apps.events.web.forms import LocalSplitDateTimeField, LocalTimesMixin, timezone_field


class StatusChangeInline(admin.TabularInline):
    model = EventStatusChange
    fields = ("at", "from_status", "to_status", "source", "actor")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("at", "id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin:
    """Shown, never written here: rules change through `messages.configuring` (pages, API),
    deliveries through the sender, retention runs and the audit trail only by being made."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
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
            except errors.InvalidTransition as exc:
                refused.append(exc.message)
        if done:
            modeladmin.message_user(request, f"{name}: {done} event(s).", messages.SUCCESS)
        for message in refused:
            modeladmin.message_user(request, message, messages.WARNING)

    action.__name__ = f"{name}_selected"
    return admin.action(description=f"{name.capitalize()} selected events")(action)


class EventAdminForm(LocalTimesMixin):
    """Dates typed and shown in the event's zone, as on the pages (`LocalTimesMixin`)."""

    timezone = timezone_field()
    start_date = LocalSplitDateTimeField(label="Start date", widget=AdminSplitDateTime)
    end_date = LocalSplitDateTimeField(label="End date", required=False, widget=AdminSplitDateTime)

    def clean(self) -> dict[str, Any]:
        """The domain's rules as field errors, so the form keeps what was typed; save_model
        checks them again under the row lock (a join may land in between)."""
        cleaned: dict[str, Any] = super().clean()
        if self.errors:
            return cleaned
        fields = {name: cleaned.get(name) for name in editing.EDITABLE_FIELDS}
        try:
            if self.instance.pk is None:
                rules.check_dates(fields["start_date"], fields["end_date"])
            else:
                changed = {name: fields[name] for name in self.changed_data if name in fields}
                editing.check_change(self.instance, changed)
        except errors.Refused as refused:
            self.add_error(refused.field if refused.field in self.fields else None, refused.message)
        return cleaned

    def _post_clean(self) -> None:
        # The rules across fields are the domain's (above); the model's checks would only repeat
        # them in other words ("Constraint event_end_after_start is violated").
        pass


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    form = EventAdminForm
    list_display = (
        "title",
        "status",
        "start_date",
        "end_date",
        "timezone",
        "organizer",
        "completed_at",
    )
    list_filter = ("status",)
    search_fields = ("title", "venue")
    date_hierarchy = "start_date"
    raw_id_fields = ("organizer",)
    readonly_fields = (
        "status",
        "created_at",
        "updated_at",
        "completed_at",
        "archived_at",
        "message_summary",
        "personal_data_removed_at",
        "retained_participants",
    )
    inlines = (ParticipationInline, StatusChangeInline)
    actions = [
        _transition_action("confirm", lifecycle.confirm),
        _transition_action("complete", lifecycle.complete),
        _transition_action("cancel", lifecycle.cancel),
    ]
    list_select_related = ("organizer",)

    @admin.display(description="Messages")
    def message_summary(self, obj: Event) -> str:
        """The event's message rules and its deliveries by state, linked to their lists (shown,
        not a formset: rules change through the pages and the API)."""
        if obj.pk is None:
            return "—"
        rules = format_html_join(
            "",
            "<li>{} {} → due {}</li>",
            ((r.get_kind_display(), r.offset, r.due_at) for r in obj.message_rules.all()),
        )
        counts = Counter(Delivery.objects.filter(rule__event=obj).values_list("state", flat=True))
        return format_html(
            '<ul>{}</ul><a href="{}?rule__event__id__exact={}">Deliveries</a>: {}',
            rules,
            reverse("admin:events_delivery_changelist"),
            obj.pk,
            ", ".join(f"{state} {n}" for state, n in sorted(counts.items())) or "none",
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Who organizes an event is set when it is created, like on the pages and in the API.
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, "organizer") if obj is not None else fields

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except errors.Refused as refused:  # the save was rolled back as a whole
            self.message_user(request, f"Not saved: {refused.message}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request: HttpRequest, obj: Event, form: Any, change: bool) -> None:
        fields = {
            name: form.cleaned_data[name]
            for name in editing.EDITABLE_FIELDS
            if name in form.cleaned_data
        }
        if change:
            changed = {name: fields[name] for name in form.changed_data if name in fields}
            if changed:  # saving only the inlines of a finished event is not an edit
                editing.update_event(obj.pk, **changed)
        else:
            obj.pk = editing.create_event(form.cleaned_data["organizer"], **fields).pk
        obj.refresh_from_db()

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not Participation:
            super().save_formset(request, form, formset, change)
            return
        formset.save(commit=False)  # only to list what changed, for the admin's change message
        event_id = form.instance.pk
        for row in formset.initial_forms:
            if row in formset.deleted_forms or row.has_changed():
                participation.leave(event_id, row.initial["user"])
        for row in formset.forms:
            if row.has_changed() and row not in formset.deleted_forms:
                participation.join(event_id, row.cleaned_data["user"])


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

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The audit trail; `selectors` also reads it to keep never-confirmed drafts private.
        return False


@admin.register(MessageRule)
class MessageRuleAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ("event", "kind", "offset", "local_time", "due_at", "subject")
    list_filter = ("kind",)
    list_select_related = ("event",)
    raw_id_fields = ("event",)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ("rule", "user", "due_at", "state", "sent_at")
    list_filter = ("state", "rule__kind")
    list_select_related = ("rule", "user")
    raw_id_fields = ("rule", "user")
    date_hierarchy = "due_at"

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        # The event page links to its deliveries by this lookup.
        return lookup == "rule__event__id__exact" or super().lookup_allowed(lookup, value, request)


@admin.register(RetentionRun)
class RetentionRunAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """The record of each "Apply Data Retention" run: read only."""

    list_display = (
        "ran_at",
        "events",
        "participations",
        "deliveries",
        "webhook_bodies",
        "archived_before",
    )
    date_hierarchy = "ran_at"
