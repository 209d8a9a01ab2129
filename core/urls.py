from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from core.health import healthz
from core.metrics import metrics

# JSON under /api/, the site's pages elsewhere (core.errors).
handler400 = "core.errors.bad_request"
handler500 = "core.errors.server_error"

urlpatterns = [
    path("", include("apps.events.web.urls")),
    path("accounts/", include("apps.accounts.web.urls")),
    path("account/", include("apps.accounts.web.account_urls")),
    path("admin/", admin.site.urls),
    path("api/auth/", include("apps.accounts.api.urls")),
    path("api/webhooks/", include("apps.webhooks.api.urls")),
    path("api/", include("apps.events.api.urls")),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    # Clients that ask for /favicon.ico without reading the page's <link rel="icon">.
    path("favicon.ico", RedirectView.as_view(url=static("events/favicon.svg"), permanent=True)),
]
