"""Pages of lifecycle messages: the one-click unsubscribe (no login), and the organiser's rules
and delivery log (CONTRACT §3 "Lifecycle messages", "Opting out")."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from apps.events import errors
from apps.events.messages import configuring, due, unsubscribe
from apps.events.models import Delivery, Event, MessageRule
from apps.events.web.forms import MessageRuleForm

LOG_SIZE = 200


# RFC 8058: the mail client POSTs the link with no session and no CSRF token; the signed token is
# the credential, and it can only mute (never read or change anything else).
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe_view(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a page asking to confirm (link scanners follow GETs). POST: mute, say so."""
    target = unsubscribe.read_token(token)
    event = Event.objects.filter(pk=target.event_id).first() if target else None
    known = target is not None and get_user_model().objects.filter(pk=target.user_id).exists()
    if target is None or event is None or not known:
        return render(request, "events/unsubscribe.html", {"invalid": True}, status=400)
    done = request.method == "POST"
    if done:
        configuring.mute(event.pk, target.user_id)
    return render(request, "events/unsubscribe.html", {"event": event, "done": done})


def _organized(request: HttpRequest, pk: int) -> Event:
    event = get_object_or_404(Event, pk=pk)
    if event.organizer_id != request.user.pk:
        raise PermissionDenied("Only the organizer manages an event's messages.")
    return event


@login_required
def rules_page(request: HttpRequest, pk: int) -> HttpResponse:
    """The event's rules, a form to add one, and the delivery log with counts by state."""
    event = _organized(request, pk)
    form = MessageRuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            configuring.create_rule(event.pk, **form.cleaned_data)
        except errors.Refused as refused:
            form.add_refusal(refused)
        else:
            messages.success(request, "Message added.")
            return redirect("events:messages", pk=event.pk)
    deliveries = Delivery.objects.filter(rule__event=event)
    counts = dict(deliveries.order_by().values_list("state").annotate(n=Count("id")))
    context = {
        "event": event,
        "form": form,
        "rules": [
            (rule, due.format_offset(rule.offset))
            for rule in event.message_rules.order_by("due_at", "id")
        ],
        "counts": [(label, counts.get(state, 0)) for state, label in Delivery.State.choices],
        "log": deliveries.select_related("rule", "user").order_by("-due_at", "-id")[:LOG_SIZE],
    }
    return render(request, "events/messages.html", context)


@login_required
def rule_edit(request: HttpRequest, pk: int, rule_id: int) -> HttpResponse:
    event = _organized(request, pk)
    rule = get_object_or_404(
        MessageRule, pk=rule_id, event=event, kind__in=configuring.ORGANISER_KINDS
    )
    form = MessageRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        try:
            configuring.update_rule(event.pk, rule.pk, **form.cleaned_data)
        except errors.Refused as refused:
            form.add_refusal(refused)
        else:
            messages.success(request, "Message saved.")
            return redirect("events:messages", pk=event.pk)
    return render(request, "events/message_form.html", {"event": event, "form": form, "rule": rule})


@require_POST
@login_required
def rule_delete(request: HttpRequest, pk: int, rule_id: int) -> HttpResponse:
    event = _organized(request, pk)
    try:
        configuring.delete_rule(event.pk, rule_id)
    except errors.Refused as refused:
        messages.error(request, refused.message)
    except MessageRule.DoesNotExist:
        messages.error(request, "That message no longer exists.")
    else:
        messages.success(request, "Message deleted.")
    return redirect("events:messages", pk=event.pk)
