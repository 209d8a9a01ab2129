"""/api/: the events resource, accounts, the OpenAPI schema and its docs."""

from __future__ import annotations

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from apps.events.api.exceptions import not_found
from apps.events.api.views import EventViewSet, RegisterView, TokenView

router = SimpleRouter(use_regex_path=False)
router.register("events", EventViewSet, basename="event")

urlpatterns = [
    path("auth/register/", RegisterView.as_view(), name="api-register"),
    path("auth/token/", TokenView.as_view(), name="api-token"),
    *router.urls,
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Unknown /api/.../ URLs get a JSON 404; slash-less ones still get Django's APPEND_SLASH.
    re_path(r"^(?:[\s\S]*/)?$", not_found),
]
