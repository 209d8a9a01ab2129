"""/api/webhooks/: the signed-in user's endpoints and their delivery logs (CONTRACT §9)."""

from __future__ import annotations

from rest_framework.routers import SimpleRouter

from apps.webhooks.api.views import EndpointViewSet

router = SimpleRouter(use_regex_path=False)
router.register("", EndpointViewSet, basename="webhook")

urlpatterns = router.urls
