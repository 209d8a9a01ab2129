"""/account/ (CONTRACT §6): time zone, message opt-out, calendar feed and webhooks of the
signed-in user. Thin views over `profiles` and `apps.webhooks.endpoints`, the same functions
/api/auth/me/ and /api/webhooks/ call; destructive actions ask first."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts import profiles
from apps.events import zones
from apps.events.errors import Refused
from apps.webhooks import endpoints
from apps.webhooks.models import ALL_TYPES, EVENT_TYPES, Endpoint
from core.users import signed_in


class PreferencesForm(forms.Form):
    timezone = forms.ChoiceField(
        label="Time zone", choices=zones.choices, help_text="Times are shown in it."
    )
    email_messages = forms.BooleanField(
        required=False, label="Email me lifecycle messages (reminders, follow-ups, notices)"
    )


class EndpointForm(forms.Form):
    url = forms.URLField(label="Endpoint URL", max_length=2000, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=[(ALL_TYPES, "Every type"), *((t, t) for t in EVENT_TYPES)],
        widget=forms.CheckboxSelectMultiple,
        initial=[ALL_TYPES],
    )


def _calendar_url(request: HttpRequest, user: User) -> str:
    token = profiles.profile_of(user).calendar_token
    return request.build_absolute_uri(reverse("events:calendar-feed", args=[token]))


def _page(request: HttpRequest, user: User, **context: Any) -> HttpResponse:
    profile = profiles.profile_of(user)
    context.setdefault(
        "preferences",
        PreferencesForm(
            initial={"timezone": profile.timezone, "email_messages": profile.email_messages}
        ),
    )
    context.setdefault("endpoint_form", EndpointForm())
    context.update(
        calendar_url=_calendar_url(request, user), endpoints=list(endpoints.owned_by(user))
    )
    return render(request, "accounts/account.html", context)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    user = signed_in(request.user)
    if request.method != "POST":
        return _page(request, user)
    form = PreferencesForm(request.POST)
    if not form.is_valid():
        return _page(request, user, preferences=form)
    profiles.update_profile(user, **form.cleaned_data)
    messages.success(request, "Preferences saved.")
    return redirect("account:index")


@login_required
@require_POST
def calendar_reset(request: HttpRequest) -> HttpResponse:
    profiles.reset_calendar_token(signed_in(request.user))
    messages.success(request, "New calendar address: the old one no longer works.")
    return redirect("account:index")


@login_required
@require_POST
def endpoint_create(request: HttpRequest) -> HttpResponse:
    user = signed_in(request.user)
    form = EndpointForm(request.POST)
    if form.is_valid():
        try:
            endpoint = endpoints.create(user, **form.cleaned_data)
        except Refused as refused:
            form.add_error(refused.field if refused.field in form.fields else None, refused.message)
        else:
            # The secret is shown in this answer only, never stored in a message or the session.
            return _page(request, user, created=endpoint)
    return _page(request, user, endpoint_form=form)


def _owned(request: HttpRequest, pk: int) -> Endpoint:
    return get_object_or_404(endpoints.owned_by(signed_in(request.user)), pk=pk)


@login_required
@require_POST
def endpoint_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _owned(request, pk)
    endpoints.update(endpoint, is_active=not endpoint.is_active)
    messages.success(request, f"{endpoint.url} is {'on' if endpoint.is_active else 'off'}.")
    return redirect("account:index")


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def endpoint_delete(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _owned(request, pk)
    if request.method != "POST":
        return render(request, "accounts/endpoint_delete.html", {"endpoint": endpoint})
    endpoint.delete()
    messages.success(request, f"Endpoint {endpoint.url} deleted.")
    return redirect("account:index")


@login_required
@require_http_methods(["GET", "HEAD"])
def endpoint_deliveries(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _owned(request, pk)
    log = endpoints.deliveries(endpoint)[:100]
    return render(request, "accounts/endpoint_deliveries.html", {"endpoint": endpoint, "log": log})


@login_required
@require_POST
def delivery_retry(request: HttpRequest, pk: int, delivery_id: int) -> HttpResponse:
    endpoint = _owned(request, pk)
    delivery = get_object_or_404(endpoints.deliveries(endpoint), pk=delivery_id)
    endpoints.retry(delivery)
    messages.success(request, f"Delivery {delivery.webhook_id} will be sent again now.")
    return redirect("account:deliveries", pk=endpoint.pk)
