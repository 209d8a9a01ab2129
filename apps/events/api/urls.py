"""/api/: the events resource, the OpenAPI schema and its docs (accounts: apps.accounts.api)."""

from __future__ import annotations

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.urls import path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.renderers import JSONRenderer
from rest_framework.routers import SimpleRouter

from apps.events.api.exceptions import not_found
from apps.events.api.messages import DeliveryViewSet, MessageRuleViewSet
from apps.events.api.renderers import CalendarRenderer
from apps.events.api.views import EventViewSet

router = SimpleRouter(use_regex_path=False)
router.register("events", EventViewSet, basename="event")
router.register("events/<int:id>/messages", MessageRuleViewSet, basename="event-message")
router.register("events/<int:id>/deliveries", DeliveryViewSet, basename="event-delivery")

# Swagger UI and ReDoc come from drf-spectacular-sidecar (static files), so they work offline.
# The split view serves Swagger's start-up script as a file: no inline script under the CSP.
swagger_ui = SpectacularSwaggerSplitView.as_view(
    url_name="api-schema", template_name="api/swagger_ui.html"
)
# ReDoc styles itself with injected <style> elements and parses in a blob: worker: only its
# page allows those; scripts stay 'self' only.
redoc = csp_update({"style-src": [UNSAFE_INLINE], "worker-src": ["blob:"]})(
    SpectacularRedocView.as_view(url_name="api-schema", template_name="api/redoc.html")
)

# A file name, not a collection: no trailing slash, so it is routed by hand (a router action would
# get one). Its renderers let a client that accepts only text/calendar through negotiation.
event_calendar = EventViewSet.as_view(
    {"get": "calendar"}, renderer_classes=[JSONRenderer, CalendarRenderer]
)

urlpatterns = [
    path("events/<int:pk>/calendar.ics", event_calendar, name="event-calendar"),
    # Any other id: 404 here, not APPEND_SLASH's 301 to a URL that does not exist either.
    re_path(r"^events/[^/]+/calendar\.ics$", not_found),
    *router.urls,
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", swagger_ui, name="api-docs"),
    path("redoc/", redoc, name="api-redoc"),
    # Unknown /api/.../ URLs get a JSON 404; slash-less ones still get Django's APPEND_SLASH.
    re_path(r"^(?:[\s\S]*/)?$", not_found),
]
