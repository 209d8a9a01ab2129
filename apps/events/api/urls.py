"""/api/: the events resource, the OpenAPI schema and its docs (accounts: apps.accounts.api)."""

from __future__ import annotations

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from apps.events.api.exceptions import not_found
from apps.events.api.views import EventViewSet

router = SimpleRouter(use_regex_path=False)
router.register("events", EventViewSet, basename="event")

urlpatterns = [
    *router.urls,
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Unknown /api/.../ URLs get a JSON 404; slash-less ones still get Django's APPEND_SLASH.
    re_path(r"^(?:[\s\S]*/)?$", not_found),
]
