from django.contrib import admin
from django.urls import include, path

from core.health import healthz

urlpatterns = [
    path("", include("apps.events.web.urls")),
    path("accounts/", include("apps.accounts.web.urls")),
    path("admin/", admin.site.urls),
    path("api/auth/", include("apps.accounts.api.urls")),
    path("api/", include("apps.events.api.urls")),
    path("healthz", healthz, name="healthz"),
]
