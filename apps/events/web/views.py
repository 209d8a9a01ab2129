"""The pages (CONTRACT §6): thin views over selectors, lifecycle, participation and the forms."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts import profiles
from apps.events import (
    editing,
    errors,
    lifecycle,
    participation,
    selectors,
    zones,
)
from apps.events.models import Event, EventStatusChange, Participation
from apps.events.web.forms import EventForm
from core.users import signed_in

Status = Event.EventStatus
PAGE_SIZE = 20
TRANSITIONS = {
    "confirm": lifecycle.confirm,
    "cancel": lifecycle.cancel,
    "complete": lifecycle.complete,
}
_PAST = {"confirm": "confirmed", "cancel": "cancelled", "complete": "completed"}
# Actions that cannot be undone: the event page links to a confirmation page (GET) whose form
# makes the change (POST), so they ask first even without JavaScript.
CONFIRM_FIRST = frozenset({"cancel"})


def _page(request: HttpRequest, queryset: QuerySet[Event]) -> Any:
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def discovery(request: HttpRequest) -> HttpResponse:
    """Upcoming and ongoing events (never COMPLETED), searchable by title."""
    query = request.GET.get("q", "").strip()
    events = selectors.discovery()
    if query:
        events = events.filter(title__icontains=query)
    return render(request, "events/discovery.html", {"page": _page(request, events), "q": query})


def _visible_event(request: HttpRequest, pk: int) -> Event:
    """The event if this user may see it; 404 for someone else's DRAFT, as for a missing one."""
    return get_object_or_404(selectors.with_counts(selectors.visible_to(request.user)), pk=pk)


def event_detail(request: HttpRequest, pk: int) -> HttpResponse:
    event = _visible_event(request, pk)
    user = request.user
    is_organizer = user.is_authenticated and event.organizer_id == user.pk
    joined = user.is_authenticated and Participation.objects.filter(event=event, user=user).exists()
    history = list(selectors.history(event))
    context = {
        "event": event,
        "is_organizer": is_organizer,
        "joined": joined,
        "is_open": event.status in Event.ACTIVE_STATUSES,
        "is_full": event.capacity is not None and event.participant_count >= event.capacity,  # type: ignore[attr-defined]
        "can_edit": is_organizer and editing.can_edit(event),
        "actions": lifecycle.available_actions(event, user),
        "confirm_first": CONFIRM_FIRST,
        "can_delete": is_organizer and event.status == Status.DRAFT,
        "history": history,
        # The badge's socket resumes after the last change this page shows (live.js).
        "last_change_id": max((change.pk for change in history), default=""),
        "show_actors": selectors.may_see_actors(user, event),
    }
    context["organizer_tools"] = is_organizer and bool(
        context["can_edit"] or context["actions"] or context["can_delete"] or context["history"]
    )
    return render(request, "events/detail.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def event_transition(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    event = _visible_event(request, pk)
    if event.organizer_id != request.user.pk:
        raise PermissionDenied("Only the organizer can change the status of an event.")
    if request.method == "GET":
        if action not in CONFIRM_FIRST:
            return HttpResponseNotAllowed(["POST"])
        return render(request, "events/confirm.html", {"event": event, "action": action})
    try:
        TRANSITIONS[action](event.pk, actor=request.user, source=EventStatusChange.Source.WEB)
    except errors.InvalidTransition as refused:
        messages.error(request, f"Could not {action} the event: {refused.reason}")
    else:
        messages.success(request, f"Event {_PAST[action]}.")
    return redirect("events:detail", pk=event.pk)


@require_POST
@login_required
def event_join(request: HttpRequest, pk: int) -> HttpResponse:
    event = _visible_event(request, pk)
    try:
        participation.join(event.pk, signed_in(request.user))
    except errors.Refused as refused:
        messages.error(request, f"Could not join: {refused.message}")
    else:
        messages.success(request, "You are in. See you there!")
    return redirect("events:detail", pk=event.pk)


@require_POST
@login_required
def event_leave(request: HttpRequest, pk: int) -> HttpResponse:
    event = _visible_event(request, pk)
    try:
        left = participation.leave(event.pk, signed_in(request.user))
    except errors.Refused as refused:
        messages.error(request, f"Could not leave: {refused.message}")
    else:
        messages.success(request, "You left the event." if left else "You had not joined it.")
    return redirect("events:detail", pk=event.pk)


@require_http_methods(["GET", "POST"])
@login_required
def event_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """A DRAFT's organizer deletes it, after a confirmation page."""
    event = _visible_event(request, pk)
    if event.organizer_id != request.user.pk:
        raise PermissionDenied("Only the organizer can delete an event.")
    if request.method == "GET":
        return render(request, "events/confirm.html", {"event": event, "action": "delete"})
    try:
        editing.delete_draft(event.pk)
    except errors.EditRefused as refused:
        messages.error(request, f"Could not delete the event: {refused.message}")
        return redirect("events:detail", pk=event.pk)
    messages.success(request, f"Draft “{event.title}” deleted.")
    return redirect("events:mine")


@login_required
def my_events(request: HttpRequest) -> HttpResponse:
    """Events I organize or joined; COMPLETED ones only with `?completed=1`."""
    show_completed = request.GET.get("completed") == "1"
    events = selectors.with_counts(
        selectors.mine(signed_in(request.user), include_completed=show_completed)
    )
    token = profiles.profile_of(signed_in(request.user)).calendar_token
    calendar_url = request.build_absolute_uri(reverse("events:calendar-feed", args=[token]))
    return render(
        request,
        "events/mine.html",
        {
            "page": _page(request, events),
            "show_completed": show_completed,
            "calendar_url": calendar_url,
        },
    )


@login_required
def event_create(request: HttpRequest) -> HttpResponse:
    # A new event starts in the organizer's own zone; they may pick another.
    form = EventForm(
        request.POST or None, initial={"timezone": zones.viewer_timezone(request.user)}
    )
    if request.method == "POST" and form.is_valid():
        try:
            event = editing.create_event(signed_in(request.user), **form.cleaned_data)
        except errors.Refused as refused:
            form.add_refusal(refused)
        else:
            messages.success(request, "Draft created. Confirm it when you are ready to publish it.")
            return redirect("events:detail", pk=event.pk)
    return render(request, "events/form.html", {"form": form, "event": None})


@login_required
def event_edit(request: HttpRequest, pk: int) -> HttpResponse:
    event = _visible_event(request, pk)
    if event.organizer_id != request.user.pk:
        raise PermissionDenied("Only the organizer can edit an event.")
    if not editing.can_edit(event):
        messages.error(request, f"A {event.get_status_display().lower()} event cannot be edited.")
        return redirect("events:detail", pk=event.pk)
    form = EventForm(request.POST or None, instance=event)
    if request.method == "POST" and form.is_valid():
        try:
            editing.update_event(event.pk, **form.cleaned_data)
        except errors.EditRefused as refused:  # finished meanwhile: nothing left to edit
            messages.error(request, refused.message)
            return redirect("events:detail", pk=event.pk)
        except errors.Refused as refused:
            form.add_refusal(refused)
        else:
            messages.success(request, "Event saved.")
            return redirect("events:detail", pk=event.pk)
    return render(request, "events/form.html", {"form": form, "event": event})
